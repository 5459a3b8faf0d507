"""Gemma Desktop: offline chat with Google's Gemma 3 models, text and images, through llama.cpp."""

__version__ = "0.1.0"
APP_NAME = "Gemma Desktop"
