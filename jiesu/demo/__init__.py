"""The demo city: a simulator that fills a fresh database with a few months of plausible tickets."""

from jiesu.demo.simulator import DEMO_USER, SimReport, seed_demo

__all__ = ["DEMO_USER", "SimReport", "seed_demo"]
