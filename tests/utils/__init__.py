"""Factories of test data, as plain functions."""
