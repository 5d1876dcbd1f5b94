"""Executors: run an algorithm's ask/tell loop against an evaluator."""
