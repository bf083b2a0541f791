"""Tests of the factor pipeline (strategy/)."""
