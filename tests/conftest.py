"""Suite-wide guards. Tests only ever talk to 127.0.0.1.

The official credentials chain (an installed extra) would ask the ECS metadata service at
100.100.100.200 when nothing else yields credentials. No test may do that, whatever it
forgets to set, and subprocesses inherit this environment.
"""

import os

os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"
