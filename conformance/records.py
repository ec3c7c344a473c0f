"""Records of several named arrays: defined in :mod:`refq.backends.records` (the backends build them),
re-exported here for the harness's callers."""

from refq.backends.records import any_set, differ, fields, is_record, mask_like, record

__all__ = ["any_set", "differ", "fields", "is_record", "mask_like", "record"]
