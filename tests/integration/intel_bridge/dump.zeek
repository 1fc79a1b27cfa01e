##! Test harness for the intel bridge (not shipped): every 0.2 s of network time, write the Intel
##! framework's items whose indicator starts with SOCForgeBridgeTest::prefix to dump_file
##! (indicator, type, source; one line per source), atomically (write + rename).

@load base/frameworks/intel

module SOCForgeBridgeTest;

export {
	const dump_file = "intel_state.tsv" &redef;
	const prefix = "127.77." &redef;
	const domain_suffix = ".bridge.test" &redef;
	global dump: event();
}

# data_store is not exported: read it from inside module Intel
module Intel;

global n = 0;

event SOCForgeBridgeTest::dump()
	{
	++n;
	local dump_file = SOCForgeBridgeTest::dump_file;
	local prefix = SOCForgeBridgeTest::prefix;
	local domain_suffix = SOCForgeBridgeTest::domain_suffix;
	local tmp = fmt("%s.%d.tmp", dump_file, n);
	local f = open(tmp);
	for ( a, metas in data_store$host_data )
		if ( starts_with(cat(a), prefix) )
			for ( src in metas )
				print f, fmt("%s|Intel::ADDR|%s", a, src);
	for ( [s, t], metas in data_store$string_data )
		if ( ends_with(s, domain_suffix) )
			for ( src in metas )
				print f, fmt("%s|%s|%s", s, t, src);
	close(f);
	rename(tmp, dump_file);
	schedule 0.2sec { SOCForgeBridgeTest::dump() };
	}

event zeek_init()
	{
	schedule 0.2sec { SOCForgeBridgeTest::dump() };
	}
