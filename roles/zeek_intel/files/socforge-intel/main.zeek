##! Reads the intel files written by socforge-intel-sync / socforge.core.misp_zeek_intel and applies
##! removals.
##!
##! Adding: every file in SOCForgeIntel::intel_files is read by the Input framework in REREAD mode,
##! like Intel::read_files (each line becomes Intel::insert).
##!
##! Removing: REREAD never removes an item whose line disappeared. Each sync that changes an intel
##! file also replaces "<file>.removals" with the (indicator, indicator_type, source) triples that
##! left the file in that sync. This script reads every removals file as an event stream (REREAD) and
##! calls Intel::remove for each triple with purge_indicator=F, so only the meta data of that source
##! is dropped (other feeds carrying the same indicator keep it). The sync guarantees no removals line
##! is also a live intel line, so re-reading a removals file (e.g. after a restart) is harmless.
##!
##! Safety net: Intel::item_expiration (set from config.zeek when the role's zeek_intel_item_expiration
##! is set). The sync refreshes the intel files' mtime on every successful run when configured to, so
##! live items are re-inserted before they expire, while items missed by a removal age out.

@load base/frameworks/intel
@load base/frameworks/input
@load base/frameworks/cluster

module SOCForgeIntel;

export {
	## Directory holding the intel files and their ".removals" companions.
	const intel_dir = "/var/lib/socforge-intel" &redef;

	## Intel file names (relative to intel_dir) to read; each "<name>.removals" is read as well.
	const intel_files: set[string] = { "misp.intel" } &redef;

	## Report every removal applied through the Reporter framework (reporter.log, info level).
	option log_removals = F;

	## One line of a removals file.
	type RemovalItem: record {
		indicator: string;
		indicator_type: Intel::Type;
		source: string;
	};

	## Raised for every line of an intel file (insert).
	global read_entry: event(desc: Input::EventDescription, tpe: Input::Event, item: Intel::Item);

	## Raised for every line of a removals file (remove).
	global removal_entry: event(desc: Input::EventDescription, tpe: Input::Event, item: RemovalItem);

	## Removals applied since start (for tests and stats).
	global removals_applied: count = 0;
}

event SOCForgeIntel::read_entry(desc: Input::EventDescription, tpe: Input::Event, item: Intel::Item)
	{
	Intel::insert(item);
	}

event SOCForgeIntel::removal_entry(desc: Input::EventDescription, tpe: Input::Event, item: RemovalItem)
	{
	local meta = Intel::MetaData($source=item$source);
	Intel::remove(Intel::Item($indicator=item$indicator, $indicator_type=item$indicator_type, $meta=meta), F);
	++removals_applied;
	if ( log_removals )
		Reporter::info(fmt("socforge-intel: removed %s %s (%s)", item$indicator, item$indicator_type, item$source));
	}

function reads_intel(): bool
	{
	return ! Cluster::is_enabled() || Cluster::local_node_type() == Cluster::MANAGER;
	}

event zeek_init() &priority=5
	{
	if ( ! reads_intel() )
		return;

	for ( name in intel_files )
		{
		local path = cat(intel_dir, "/", name);
		Input::add_event(Input::EventDescription($source=path,
		                                         $reader=Input::READER_ASCII,
		                                         $mode=Input::REREAD,
		                                         $name=cat("socforge-intel-", name),
		                                         $fields=Intel::Item,
		                                         $ev=SOCForgeIntel::read_entry));
		Input::add_event(Input::EventDescription($source=cat(path, ".removals"),
		                                         $reader=Input::READER_ASCII,
		                                         $mode=Input::REREAD,
		                                         $name=cat("socforge-intel-removals-", name),
		                                         $fields=RemovalItem,
		                                         $ev=SOCForgeIntel::removal_entry));
		}
	}
