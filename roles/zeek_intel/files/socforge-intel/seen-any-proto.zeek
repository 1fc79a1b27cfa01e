##! Opt-in: Intel::ADDR / Intel::SUBNET matches for the addresses of connections of any protocol.
##!
##! Zeek's policy/frameworks/intel/seen/conn-established.zeek calls Intel::seen for a connection's
##! addresses only once a TCP handshake completes, so a listed address seen in DNS over UDP, QUIC,
##! NTP, ICMP or an unanswered TCP SYN never matches. With SOCForgeIntel::seen_all_protocols = T
##! (role variable zeek_intel_seen_all_protocols) this script calls Intel::seen for both addresses of:
##!   - every UDP and ICMP connection (and any other non-TCP transport) when it starts
##!     (new_connection: a match as early as possible);
##!   - every TCP connection that never completed a handshake, when it ends (connection_state_remove;
##!     established ones are already matched by conn-established.zeek, so nothing is counted twice).
##!
##! False-positive risk: these matches need no answer from the listed host. A spoofed source address,
##! a scan, backscatter, a broadcast or multicast peer, or a resolver that merely forwards a query
##! all match; UDP "connections" are Zeek's flow guesses. Expect more intel.log lines and notices for
##! address intel; the bridge's noisy-intel handling takes an indicator out past its rate threshold.

@load base/frameworks/intel
@load policy/frameworks/intel/seen/where-locations

module SOCForgeIntel;

export {
	## Match connection-level addresses of every protocol (see the file's header). Off by default.
	option seen_all_protocols = F;
}

event new_connection(c: connection)
	{
	if ( ! seen_all_protocols || get_port_transport_proto(c$id$resp_p) == tcp )
		return;
	Intel::seen([$host=c$id$orig_h, $conn=c, $where=Conn::IN_ORIG]);
	Intel::seen([$host=c$id$resp_h, $conn=c, $where=Conn::IN_RESP]);
	}

event connection_state_remove(c: connection)
	{
	if ( ! seen_all_protocols || get_port_transport_proto(c$id$resp_p) != tcp )
		return;
	# connection_established (and so conn-established.zeek) fired for a completed handshake
	if ( c$orig$state == TCP_ESTABLISHED || c$resp$state == TCP_ESTABLISHED || /[hH]/ in c$history )
		return;
	Intel::seen([$host=c$id$orig_h, $conn=c, $where=Conn::IN_ORIG]);
	Intel::seen([$host=c$id$resp_h, $conn=c, $where=Conn::IN_RESP]);
	}
