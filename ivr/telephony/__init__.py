"""Telephony adapters: they turn a provider's world into engine events and back."""
