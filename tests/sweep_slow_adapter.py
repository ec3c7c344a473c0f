"""A test adapter for the cluster sweep: refq's onnx-profile quantize with ties away from zero (so that
sweeps find mismatches), slowed down so that a worker can be killed while a chunk is in flight."""

import time

from refq.conformance.mutants import TiesAwayFromZero

#: Seconds each call takes beyond the computation.
DELAY = 0.3


class SlowTiesAway(TiesAwayFromZero):
    name = "slow-ties-away"

    def quantize_linear(self, *arguments, **keywords):
        time.sleep(DELAY)
        return super().quantize_linear(*arguments, **keywords)
