##! SOCForge intel bridge, Zeek side: applies the bridge daemon's live intel changes.
##!
##! The daemon (socforge-intel-bridge, roles/intel_bridge) follows MISP's ZeroMQ feed and publishes
##! SOCForgeBridge::apply events on SOCForgeBridge::topic: each carries a sequence number and
##! intel lines ("indicator<TAB>type<TAB>source<TAB>desc<TAB>url<TAB>do_notice<TAB>if_in", the
##! intel file's format) to insert or remove. The manager (or a standalone Zeek) turns them into
##! Intel::insert / Intel::remove (purge_indicator=F: only that source's meta data goes), and the
##! Intel framework carries them to the workers. Every apply is answered on SOCForgeBridge::reply_topic
##! with SOCForgeBridge::applied (the sequence number, counts, and the ZeroMQ backend's drop
##! counters) so the daemon knows what Zeek really applied and resends what was lost.
##!
##! Transport: Zeek 7.x Broker (the daemon peers with the manager's Broker port; standalone: set
##! listen_port to make this script call Broker::listen) or Zeek >= 8.1's WebSocket API (the
##! manager's WebSocket server; standalone: listen_port makes this script call
##! Cluster::listen_websocket). Cluster::subscribe / Cluster::publish work with both backends.
##!
##! Snapshot: snapshot_file (the intel file the daemon keeps current) is read ONCE at start
##! (Input::MANUAL, never re-read: a re-read of 1 M items costs seconds and GBs), so a restarted
##! Zeek starts from the daemon's last state; the daemon then replays what changed since.

@load base/frameworks/intel
@load base/frameworks/input
@load base/frameworks/cluster
@load base/frameworks/telemetry
@load base/misc/version
@load frameworks/intel/do_notice

module SOCForgeBridge;

export {
	## Topic the daemon publishes changes on.
	const topic = "/socforge/intel/bridge/apply" &redef;

	## Topic Zeek answers on (the daemon subscribes to it).
	const reply_topic = "/socforge/intel/bridge/reply" &redef;

	## Intel file read once at start ("" = none).
	const snapshot_file = "" &redef;

	## Standalone Zeek only: listen for the daemon here (0/tcp: the cluster already listens -
	## the manager's Broker port on 7.x, zeekctl's WebSocket server on 8.x).
	const listen_addr = 127.0.0.1 &redef;
	const listen_port = 0/tcp &redef;

	## Report every applied change in reporter.log.
	option log_changes = F;

	## Daemon -> Zeek: one batch of changes.
	global apply: event(seq: count, inserts: vector of string, removes: vector of string);

	## Daemon -> Zeek: "are you there, what did you load?" (answered with hello).
	global ping: event(nonce: string);

	## Daemon -> Zeek: read snapshot_file again (the file path for bulk changes: a first contact
	## or a long outage); answered with hello once read.
	global reload: event(nonce: string);

	## Zeek -> daemon: a batch was applied.
	global applied: event(seq: count, inserted: count, removed: count, drops: double);

	## Zeek -> daemon: this Zeek's start time, whether the snapshot file is loaded, items read from it.
	global hello: event(nonce: string, started: time, snapshot_loaded: bool, snapshot_items: count, last_seq: count);

	## Counters (tests and stats).
	global inserts_applied: count = 0;
	global removes_applied: count = 0;
	global last_seq: count = 0;
	global snapshot_items: count = 0;
	global snapshot_loaded: bool = F;

	## One line of the snapshot file.
	global snapshot_entry: event(desc: Input::EventDescription, tpe: Input::Event, item: Intel::Item);
}

global started: time;

# Intel::Type / Intel::Where by name (the daemon sends names, as the intel files hold them).
global types: table[string] of Intel::Type;
global wheres: table[string] of Intel::Where;

function active(): bool
	{
	return ! Cluster::is_enabled() || Cluster::local_node_type() == Cluster::MANAGER;
	}

function drops(): double
	{
	# The ZeroMQ backend (8.x) drops events under overload and counts them; Broker (7.x) has no
	# such counters (0).
	local total = 0.0;
	for ( _, m in Telemetry::collect_metrics("zeek", "cluster_zeromq_*drops*") )
		if ( m?$value )
			total += m$value;
	return total;
	}

function parse(line: string): Intel::Item
	{
	local f = split_string(line, /\t/);
	local meta = Intel::MetaData($source=|f| > 2 ? f[2] : "socforge-intel-bridge");
	if ( |f| > 3 && f[3] != "-" )
		meta$desc = f[3];
	if ( |f| > 4 && f[4] != "-" )
		meta$url = f[4];
	if ( |f| > 5 )
		meta$do_notice = f[5] == "T";
	if ( |f| > 6 && f[6] in wheres )
		meta$if_in = wheres[f[6]];
	return Intel::Item($indicator=f[0], $indicator_type=types[f[1]], $meta=meta);
	}

function valid(line: string): bool
	{
	local f = split_string(line, /\t/);
	if ( |f| < 3 || f[1] !in types )
		{
		Reporter::warning(fmt("socforge-intel-bridge: ignored malformed change %s", line));
		return F;
		}
	return T;
	}

global reads = 0;
global reload_nonce = "snapshot";

function read_snapshot()
	{
	if ( snapshot_file == "" || file_size(snapshot_file) < 0.0 )
		{
		# nothing to read (yet): the daemon re-asserts its changes, or asks for a reload
		if ( snapshot_file != "" )
			Reporter::info(fmt("socforge-intel-bridge: no snapshot file %s yet", snapshot_file));
		snapshot_loaded = T;
		return;
		}
	snapshot_loaded = F;
	++reads;
	Input::add_event(Input::EventDescription($source=snapshot_file,
	                                         $reader=Input::READER_ASCII,
	                                         $mode=Input::MANUAL,
	                                         $name=fmt("socforge-intel-bridge-snapshot-%d", reads),
	                                         $fields=Intel::Item,
	                                         $want_record=T,
	                                         $ev=SOCForgeBridge::snapshot_entry));
	}

event zeek_init() &priority=5
	{
	started = current_time();
	for ( name in enum_names(Intel::Type) )
		types[name] = lookup_ID(name) as Intel::Type;
	for ( name in enum_names(Intel::Where) )
		wheres[name] = lookup_ID(name) as Intel::Where;
	if ( ! active() )
		return;
	Cluster::subscribe(topic);
	if ( listen_port != 0/tcp )
		{
@if ( Version::number >= 80100 )
		if ( ! Cluster::listen_websocket([$listen_addr=listen_addr, $listen_port=listen_port]) )
			Reporter::fatal(fmt("socforge-intel-bridge: cannot listen on %s:%s", listen_addr, listen_port));
@else
		Broker::listen(cat(listen_addr), listen_port);
@endif
		}
	read_snapshot();
	}

event SOCForgeBridge::snapshot_entry(desc: Input::EventDescription, tpe: Input::Event, item: Intel::Item)
	{
	Intel::insert(item);
	++snapshot_items;
	}

event Input::end_of_data(name: string, source: string)
	{
	if ( ! starts_with(name, "socforge-intel-bridge-snapshot-") )
		return;
	snapshot_loaded = T;
	Input::remove(name);
	Cluster::publish(reply_topic, SOCForgeBridge::hello, reload_nonce, started, snapshot_loaded, snapshot_items, last_seq);
	}

event SOCForgeBridge::reload(nonce: string)
	{
	if ( ! active() )
		return;
	reload_nonce = nonce;
	read_snapshot();
	}

event SOCForgeBridge::ping(nonce: string)
	{
	if ( ! active() )
		return;
	Cluster::publish(reply_topic, SOCForgeBridge::hello, nonce, started, snapshot_loaded, snapshot_items, last_seq);
	}

event SOCForgeBridge::apply(seq: count, inserts: vector of string, removes: vector of string)
	{
	if ( ! active() )
		return;
	local ins = 0;
	local rem = 0;
	for ( _, line in removes )
		{
		if ( ! valid(line) )
			next;
		Intel::remove(parse(line), F);
		++rem;
		if ( log_changes )
			Reporter::info(fmt("socforge-intel-bridge: removed %s", line));
		}
	for ( _, line in inserts )
		{
		if ( ! valid(line) )
			next;
		Intel::insert(parse(line));
		++ins;
		if ( log_changes )
			Reporter::info(fmt("socforge-intel-bridge: inserted %s", line));
		}
	inserts_applied += ins;
	removes_applied += rem;
	if ( seq > last_seq )
		last_seq = seq;
	Cluster::publish(reply_topic, SOCForgeBridge::applied, seq, ins, rem, drops());
	}
