"""Promises that hold on every call: person words, honest answers, distress and emergencies."""
