"""SOCForge intel library: MISP attributes -> Zeek Intel framework files.

Pure Python (no Ansible imports), shared by the ``misp_zeek_intel`` module, the
``socforge-intel-sync`` CLI shipped by the ``zeek_intel`` role, and the benchmarks.
"""
