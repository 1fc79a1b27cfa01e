##! socforge-intel: MISP-derived intel for Zeek, with removals.
##!
##! Installed by the socforge.core.zeek_intel role under <zeek site dir>/socforge-intel/ and loaded
##! with "@load socforge-intel" from local.zeek. config.zeek is rendered by the role from its
##! variables; main.zeek holds the logic.

@load ./main
@load ./seen-any-proto
@load ./config
