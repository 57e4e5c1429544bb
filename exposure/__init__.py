"""Exposure strategy: preference pairs and evaluation suites built from EU regulations and a product/hiring catalogue.

  from exposure.builder import ensure_built, build_scenarios, HELD_OUT
  paths = ensure_built()            # data/exposure/{train,validation,test}.jsonl + suite_*.jsonl
"""
