##! Print the field table of every active log stream, one line per logged column:
##!   field <path> <stream id> <name> <type>
##! Nested records are flattened with dots, as Zeek's ASCII and JSON writers name the columns, in
##! declaration order; enum types print as "enum", "vector of T" as "vector[T]" (the writers'
##! "#types" spelling). The last line is "end <number of field lines>"; a stream without a path
##! prints "error <stream id> ..." and is skipped.

module SOCForgeLogFields;

function zeek_type(t: string): string
	{
	if ( starts_with(t, "enum ") )
		return "enum";
	if ( starts_with(t, "set[enum ") )
		return "set[enum]";
	if ( starts_with(t, "vector of enum ") )
		return "vector[enum]";
	if ( starts_with(t, "vector of ") )
		return "vector[" + t[10:] + "]";
	return t;
	}

# The field names of a record type in declaration order: record_fields() keeps it from Zeek 8.0
# on; Zeek 7 returns an unordered table, and record_type_to_vector() (removed in 8.0) gives it.
function field_names(type_name: string, fields: record_field_table): vector of string
	{
	local names: vector of string;
@if ( Version::at_least("8.0") )
	for ( name in fields )
		names += name;
@else
	for ( i, name in record_type_to_vector(type_name) )
		if ( name != "" )
			names += name;
@endif
	return names;
	}

function walk(path: string, stream: string, prefix: string, type_name: string,
              exclude: set[string], include: set[string]): count
	{
	local fields = record_fields(type_name);
	local n = 0;
	for ( _, name in field_names(type_name, fields) )
		{
		local f = fields[name];
		if ( ! f$log )
			next;
		local full = prefix + name;
		if ( starts_with(f$type_name, "record ") )
			{
			n += walk(path, stream, full + ".", f$type_name[7:], exclude, include);
			next;
			}
		if ( full in exclude || ( |include| > 0 && full !in include ) )
			next;
		print fmt("field %s %s %s %s", path, stream, full, zeek_type(f$type_name));
		++n;
		}
	return n;
	}

# After every stream is created (zeek_init handlers at priority >= 0 create them).
event zeek_init() &priority=-1000
	{
	local lines = 0;
	for ( id, stream in Log::active_streams )
		{
		local filter = Log::get_filter(id, "default");
		local path = filter?$path ? filter$path : ( stream?$path ? stream$path : "" );
		if ( path == "" )
			{
			print fmt("error %s has no path", id);
			next;
			}
		local exclude: set[string] = filter?$exclude ? filter$exclude : set();
		local include: set[string] = filter?$include ? filter$include : set();
		lines += walk(path, cat(id), "", cat(stream$columns), exclude, include);
		}
	print fmt("end %d", lines);
	}
