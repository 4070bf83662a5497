"""Helpers the tests and benchmarks share: free ports, child processes, a mosquitto broker, PostgreSQL."""
