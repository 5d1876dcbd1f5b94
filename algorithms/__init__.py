"""Search algorithms behind one ask/tell interface (see ``base.Algorithm``)."""
