"""Deciding cases: the compiled fast path, the reference interpreter, decisions, traces and batches."""
