##! Test harness for the real-Zeek tier (loaded after the rendered local.zeek; not shipped).
##!
##! On a pcap, intel files load asynchronously: a short trace is over before the intel is in. This
##! holds packet processing (suspend_processing) until socforge-intel's input streams have all
##! reported Input::end_of_data, as Zeek's own intel tests do. Optionally it then swaps in a second
##! generation of intel/removals files (written beforehand by the intel library; rename() is what
##! the library's atomic write does), forces a re-read, and resumes only once the swapped files were
##! re-read - so the trace's packets meet the intel state after the removals. (While processing is
##! suspended on a pcap, network time stands still and REREAD's heartbeat-driven checks never run:
##! Input::force_update does the check.)

@load base/frameworks/input
@load base/frameworks/intel

module SOCForgeTest;

export {
	## socforge-intel input streams (intel + removals files) to wait for; 0: do not hold.
	const hold_streams = 0 &redef;

	## Second generation: rename each key (staged file) to its value (the path Zeek reads).
	const swap: table[string] of string = {} &redef;

	## Log every intel item read by socforge-intel to intel_items.log.
	const dump_items = F &redef;

	redef enum Log::ID += { ITEMS };

	type ItemInfo: record {
		phase: count &log;
		path: string &log;
		indicator: string &log;
		indicator_type: string &log;
		source: string &log;
		desc: string &log &optional;
		url: string &log &optional;
		do_notice: bool &log &optional;
		if_in: string &log &optional;
	};
}

global phase = 0;
global loaded: set[string];
global reread: set[string];

event zeek_init() &priority=100
	{
	if ( dump_items )
		Log::create_stream(ITEMS, [$columns=ItemInfo, $path="intel_items"]);
	if ( hold_streams > 0 )
		suspend_processing();
	}

function resume()
	{
	phase = 2;
	continue_processing();
	}

event Input::end_of_data(name: string, source: string)
	{
	if ( ! starts_with(name, "socforge-intel-") || hold_streams == 0 )
		return;

	if ( phase == 0 )
		{
		add loaded[name];
		if ( |loaded| < hold_streams )
			return;
		if ( |swap| == 0 )
			{
			resume();
			return;
			}
		for ( staged, target in swap )
			if ( ! rename(staged, target) )
				Reporter::error(fmt("hold.zeek: cannot rename %s to %s", staged, target));
		phase = 1;
		for ( stream in loaded )
			Input::force_update(stream);
		return;
		}

	if ( phase == 1 )
		{
		for ( staged, target in swap )
			if ( source == target )
				add reread[target];
		if ( |reread| == |swap| )
			resume();
		}
	}

event SOCForgeIntel::read_entry(desc: Input::EventDescription, tpe: Input::Event, item: Intel::Item)
	{
	if ( ! dump_items )
		return;
	local m = item$meta;
	local rec = ItemInfo($phase=phase, $path=desc$source, $indicator=item$indicator, $indicator_type=cat(item$indicator_type),
	                     $source=m$source);
	if ( m?$desc )
		rec$desc = m$desc;
	if ( m?$url )
		rec$url = m$url;
	if ( m?$do_notice )
		rec$do_notice = m$do_notice;
	if ( m?$if_in )
		rec$if_in = cat(m$if_in);
	Log::write(ITEMS, rec);
	}
