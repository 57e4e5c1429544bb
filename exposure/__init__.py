"""Exposure strategy: preference pairs built from EU regulations and a product/hiring catalogue, and their cue audit.

  from exposure.builder import ensure_built, BuildConfig
  paths = ensure_built()            # data/exposure/balanced-p0.2-seed0/{train,validation,test}.jsonl
  python -m exposure.audit FILE --train TRAIN_FILE
"""
