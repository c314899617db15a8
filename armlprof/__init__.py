"""armlprof: profile ML models on Arduino-class microcontrollers, emulated or real."""

__version__ = "0.1.0"
