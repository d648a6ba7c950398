import os

os.environ.setdefault("OMP_NUM_THREADS", "2")

# Signing keys and trust anchors (vidgen keys init) go to a throwaway home, never ~/.vidgen.
if "VIDGEN_HOME" not in os.environ:
    import tempfile

    os.environ["VIDGEN_HOME"] = tempfile.mkdtemp(prefix="vidgen-home-")
