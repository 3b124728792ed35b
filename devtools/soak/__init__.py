"""Crash and load soak: SIGKILLed schedulers and hundreds of readers against the real processes."""
