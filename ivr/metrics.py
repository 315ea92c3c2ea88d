"""What an operator's dashboards and alerts read: Prometheus metrics of one instance (`/metrics`).

Labels carry only bounded, non-personal values (outcomes, reasons, routes, kinds of fault):
never a caller's number or words. Each gateway has its own registry, so several gateways in one
process (tests) never mix their figures.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
TO_PERSON = (1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300)
QUICK = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """The instance's counters, gauges and histograms."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.calls_in_progress = Gauge("ivr_calls_in_progress", "Media streams this instance runs.",
                                       registry=r)
        self.calls = Counter("ivr_calls", "Calls ended (Twilio's final status), by outcome and "
                             "transfer reason.", ["outcome", "reason"], registry=r)
        self.turn = Histogram("ivr_turn_seconds", "The caller's last voiced frame to the reply's "
                              "first audio, as the gateway sees it.", buckets=LATENCY, registry=r)
        self.time_to_person = Histogram("ivr_time_to_person_seconds", "Call start to the <Dial> "
                                        "of a person.", ["reason"], buckets=TO_PERSON, registry=r)
        self.key_decision = Histogram("ivr_key_decision_seconds", "A key's arrival to its stream "
                                      "closed (the gateway's part of key 0 -> <Dial>).",
                                      buckets=QUICK, registry=r)
        self.busy = Gauge("ivr_busy", "1 while the instance tells the balancer it is full "
                          "(recognition waits too long), else 0.", registry=r)
        self.speech_queue = Gauge("ivr_speech_queue_depth", "Recognition work waiting for the "
                                  "speech threads.", registry=r)
        self.speech_wait = Histogram("ivr_speech_wait_seconds", "Recognition work's wait for a "
                                     "speech thread.", ["urgency"], buckets=QUICK, registry=r)
        self.recognizer_cpu = Counter("ivr_recognizer_cpu_seconds", "CPU time spent in Vosk.",
                                      registry=r)
        self.marks_lost = Counter("ivr_marks_lost", "Prompt marks that never came back (taken as "
                                  "played after a grace period).", registry=r)
        self.late_frames = Counter("ivr_late_frames", "Caller audio frames handled more than "
                                   "100 ms after their place in the stream.", registry=r)
        self.webhook = Histogram("ivr_webhook_seconds", "Twilio webhook answer time, by route.",
                                 ["route"], buckets=LATENCY, registry=r)
        self.faults = Counter("ivr_faults", "Faults that sent a caller to a person, by kind.",
                              ["kind"], registry=r)
        self.db_write_lag = Histogram("ivr_db_write_lag_seconds", "A call record write's wait "
                                      "from queued to written.", buckets=LATENCY, registry=r)

    def watch(self, calls_in_progress: Callable[[], float], speech_queue: Callable[[], float]) -> None:
        """Gauges read when scraped."""
        self.calls_in_progress.set_function(calls_in_progress)
        self.speech_queue.set_function(speech_queue)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return bytes(generate_latest(self.registry))
