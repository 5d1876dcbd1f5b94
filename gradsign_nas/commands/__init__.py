"""CLI subcommands (see ``gradsign_nas.cli``)."""
