# Terminals at the door, over TCP with TLS: a counterpart login gets in only from a registered
# terminal of its counterpart: from one of its addresses, with TLS unless the terminal is on a
# dedicated line, with the terminal's client certificate if it has one, and through a Unix socket
# only if a terminal allows local connections.  A refused client is told only what a wrong
# password would tell it; the reason is in the server log and in olink.connection_log.
# Invalidating a certificate cuts the live session that presented it off at once, and refuses it
# from then on; a replacement certificate gets in.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use OlinkTAP;
use CredentialTAP;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

# --- certificates: a CA, the server's, and three client certificates -------------------------
my $dir = PostgreSQL::Test::Utils::tempdir;

sub openssl
{
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'openssl', @_ ], '<', \undef, '>', \$out, '2>', \$err)
	  or die "openssl @_ failed: $err";
	return $out;
}
my @ec = qw(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes);
openssl('req', '-x509', '-new', @ec, '-days', '2', '-subj', '/CN=olink test CA',
	'-keyout', "$dir/ca.key", '-out', "$dir/ca.crt");
my $serial = 1;
for my $name (qw(server client1 client2 client3))
{
	my $cn = $name eq 'server' ? '127.0.0.1' : "terminal $name";
	openssl('req', '-new', @ec, '-subj', "/CN=$cn", '-keyout', "$dir/$name.key", '-out', "$dir/$name.csr");
	openssl('x509', '-req', '-days', '2', '-in', "$dir/$name.csr", '-CA', "$dir/ca.crt",
		'-CAkey', "$dir/ca.key", '-set_serial', $serial++, '-out', "$dir/$name.crt");
	chmod 0600, "$dir/$name.key";
}
# the fingerprints as openssl prints them ("sha256 Fingerprint=AB:CD:..."), and as lower-case hex
my %printed = map {
	my $p = openssl('x509', '-in', "$dir/$_.crt", '-noout', '-fingerprint', '-sha256');
	chomp $p;
	($_ => $p)
} qw(client1 client2 client3);
my %fp = map {
	(my $h = lc $printed{$_}) =~ s/^.*=//;
	$h =~ s/://g;
	($_ => $h)
} keys %printed;
like($printed{client1}, qr/^sha256 Fingerprint=([0-9A-F]{2}:){31}[0-9A-F]{2}$/i, 'openssl prints a SHA-256 fingerprint');

# --- the server: TLS on, client certificates requested, passwords over TCP ---------------------
my $node = olink_node(
	'terminals', conf => qq{
listen_addresses = '127.0.0.1'
ssl = on
ssl_cert_file = '$dir/server.crt'
ssl_key_file = '$dir/server.key'
ssl_ca_file = '$dir/ca.crt'
});
open my $hba, '>', $node->data_dir . '/pg_hba.conf' or die;
# 127.0.0.0/8: a client at 127.0.0.2 passes pg_hba.conf, so that olink is what refuses it
print $hba "local all all trust\nhost all all 127.0.0.0/8 scram-sha-256\n";
close $hba;
$node->reload;

# two counterparts, one terminal each: pension's is not on a dedicated line (TLS required) and has
# no certificate; welfare's holds client1's certificate (registered as openssl prints it)
$node->safe_psql(
	'postgres', qq{
SELECT olink.add_counterpart(name => 'pension', necessity => 'Pension office', approved_by => 'Board',
                             approved_on => '2026-04-01');
SELECT olink.add_counterpart(name => 'welfare', necessity => 'Welfare office', approved_by => 'Board',
                             approved_on => '2026-04-01');
SELECT olink.add_terminal(counterpart => 'pension', name => 'pension-office', manager => 'office manager',
                          addresses => '{127.0.0.1/32}');
SELECT olink.add_terminal(counterpart => 'welfare', name => 'welfare-desk', manager => 'desk manager',
                          addresses => '{127.0.0.1/32, 10.1.2.0/24}',
                          certificate_fingerprint => '$printed{client1}');
});
is( $node->safe_psql('postgres', q{
SELECT name || ':' || dedicated_line || ':' || local_connections || ':' || coalesce(certificate_fingerprint, '-')
       || ':' || coalesce(certificate_status, '-')
  FROM olink.terminals ORDER BY terminal_id}),
	"pension-office:false:false:-:-\nwelfare-desk:false:false:$fp{client1}:valid",
	'the terminals are registered, the fingerprint stored as lower-case hex');

credential_staff($node, 'pension', 'welfare');
issue_through_workflow($node, 'pension', 'clerk_a', 'Office-Pass-41');
issue_through_workflow($node, 'welfare', 'clerk_b', 'Desk-Pass-52');
is( $node->safe_psql('postgres', q{
SELECT string_agg(login || ':' || counterpart || ':' || status, ',' ORDER BY login) FROM olink.credentials}),
	'clerk_a:pension:active,clerk_b:welfare:active', 'both credentials issued through the workflow');
is( $node->safe_psql('postgres', q{
SELECT string_agg(requested_by || '>' || approved_by || '>' || issued_by, ',' ORDER BY login)
  FROM olink.credential_requests}),
	'officer>manager>manager,officer>manager>manager', 'requested by one person, approved by another');

my $port = $node->port;
my $tls = "sslmode=require sslrootcert=$dir/ca.crt";
my $no_cert = "sslcert=$dir/none.crt sslkey=$dir/none.key";
my $a_tcp = "host=127.0.0.1 port=$port dbname=postgres user=clerk_a password=Office-Pass-41";
my $b_tcp = "host=127.0.0.1 port=$port dbname=postgres user=clerk_b password=Desk-Pass-52";
sub cert { my ($n) = @_; return "sslcert=$dir/$n.crt sslkey=$dir/$n.key"; }

# every refusal: (description, login, address or '', ssl, reason); checked against the log below
my @refusals;

# a login that must be refused: the client sees only the generic message, the server log the reason
sub refused
{
	my ($connstr, $what, $login, $reason_re, $generic) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $offset = -s $node->logfile;
	my ($ret, $out, $err) = try_login("$connstr application_name=refused-test", 'SELECT 1');
	isnt($ret, 0, "$what: refused");
	$generic //= qr/password authentication failed for user "\Q$login\E"/;
	like($err, $generic, "$what: the client gets the generic message");
	# what the server said (libpq's own words before it name the socket or host)
	my ($said) = $err =~ /(FATAL:.*)\z/s;
	unlike($said // $err, qr/olink|terminal|certificate|address|dedicated|TLS|socket|local|127\.0\.0\.2|invalid|DETAIL|HINT/i,
		"$what: and not the reason");
	ok( wait_until(sub {
				substr(PostgreSQL::Test::Utils::slurp_file($node->logfile), $offset) =~
				  /DETAIL:  olink refused the login: $reason_re\./ }),
		"$what: the server log has the reason");
	return;
}

# --- a registered terminal gets in ----------------------------------------------------------------
my ($ret, $out, $err) = try_login("$a_tcp $tls application_name=office", 'SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
is($out, 'clerk_a|t', 'a login from the registered terminal, over TLS, gets in');

# --- from an address no terminal of the counterpart has (127.0.0.2, through a relay) ----------------
my ($relay, $relay_port) = start_relay($port, '127.0.0.2');
# an internal login through the relay shows where the server sees it
my $seen;
$node->safe_psql('postgres', q{ALTER ROLE manager PASSWORD 'Manager-Pass-1'});
($ret, $seen) = try_login("host=127.0.0.1 port=$relay_port dbname=postgres user=manager password=Manager-Pass-1 $tls",
	'SELECT client_addr FROM pg_stat_activity WHERE pid = pg_backend_pid()');
is($seen, '127.0.0.2', 'through the relay the server sees the client at 127.0.0.2');
refused("host=127.0.0.1 port=$relay_port dbname=postgres user=clerk_a password=Office-Pass-41 $tls",
	'clerk_a from 127.0.0.2', 'clerk_a',
	qr/address 127\.0\.0\.2 is not a registered terminal of the login's counterpart/);
stop_relay($relay);

# --- TLS: the terminal is not on a dedicated line ------------------------------------------------
refused("$a_tcp sslmode=disable", 'clerk_a without TLS', 'clerk_a',
	qr/terminal "pension-office" is not on a dedicated line, and the connection does not use TLS/);

# --- a Unix socket: no terminal of pension allows local connections -------------------------------
refused($node->connstr('postgres') . ' user=clerk_a', 'clerk_a through a Unix socket', 'clerk_a',
	qr/a Unix-socket connection, and no terminal of the login's counterpart allows local connections/,
	qr/authentication failed for user "clerk_a"/);

# --- the terminal with a certificate --------------------------------------------------------------
refused("$b_tcp $tls $no_cert", 'clerk_b without a client certificate', 'clerk_b',
	qr/terminal "welfare-desk" requires its client certificate, and none was presented/);
refused("$b_tcp $tls " . cert('client2'), 'clerk_b with another certificate', 'clerk_b',
	qr/the client certificate \(SHA-256 $fp{client2}\) is not the one registered for terminal "welfare-desk"/);
($ret, $out, $err) = try_login("$b_tcp $tls " . cert('client1') . ' application_name=desk',
	q{SELECT current_user, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()});
is($out, 'clerk_b|/CN=terminal client1', 'clerk_b with the registered certificate gets in');

# --- invalidating the certificate cuts the session that presented it off --------------------------
my $b_live = session_start("$b_tcp $tls " . cert('client1') . ' application_name=desk-live');
my $a_live = session_start("$a_tcp $tls application_name=office-live");
my $b_pid = session_query($b_live, 'SELECT pg_backend_pid()');
my $a_pid = session_query($a_live, 'SELECT pg_backend_pid()');
is( $node->safe_psql('postgres', qq{
SELECT string_agg(usename || ':' || state, ',' ORDER BY usename) FROM pg_stat_activity WHERE pid IN ($a_pid, $b_pid)}),
	'clerk_a:idle,clerk_b:idle', 'two live sessions, one on each terminal');
is( $node->safe_psql('postgres', qq{SELECT olink.invalidate_certificate('$fp{client1}', 'ID card lost')}),
	'1', 'invalidate_certificate finds the one terminal holding it');
ok( wait_until(sub {
			$node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE pid = $b_pid") eq '0';
		}, 10),
	'the session that presented the certificate is gone');
my ($after, $cut_err) = session_query($b_live, 'SELECT 1');
$cut_err .= session_finish($b_live);
ok(!defined $after || $after eq '', 'the cut-off session runs nothing more');
like($cut_err, qr/FATAL:  terminating connection due to administrator command/, 'its client is told it was terminated');
like($cut_err, qr/DETAIL:  olink cut the session off: its client certificate was invalidated\./,
	'and why');
is(session_query($a_live, 'SELECT current_user'), 'clerk_a', 'the session on the other terminal goes on');
session_finish($a_live);
refused("$b_tcp $tls " . cert('client1'), 'clerk_b with the invalidated certificate', 'clerk_b',
	qr/the client certificate of terminal "welfare-desk" is invalidated/);
is( $node->safe_psql('postgres', q{SELECT certificate_status || ':' || status_reason FROM olink.terminals WHERE name = 'welfare-desk'}),
	'invalidated:ID card lost', 'olink.terminals shows the certificate invalidated, and why');

# --- a new certificate -----------------------------------------------------------------------------
$node->safe_psql('postgres', qq{SELECT olink.replace_certificate('welfare-desk', '$fp{client3}', 'new ID card issued')});
($ret, $out, $err) = try_login("$b_tcp $tls " . cert('client3') . ' application_name=desk-new',
	q{SELECT current_user, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()});
is($out, 'clerk_b|/CN=terminal client3', 'the replacement certificate gets in');
refused("$b_tcp $tls " . cert('client1'), 'clerk_b with the old certificate', 'clerk_b',
	qr/the client certificate \(SHA-256 $fp{client1}\) is not the one registered for terminal "welfare-desk"/);

# --- the record -----------------------------------------------------------------------------------
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
my @logins = split /\n/, $node->safe_psql(
	'postgres', q{
SELECT login || '|' || client_addr || '|' || terminal || '|' || ssl || '|' || application_name
  FROM olink.connection_log WHERE kind = 'login' AND login IN ('clerk_a', 'clerk_b') ORDER BY event_id});
is_deeply(
	\@logins,
	[
		'clerk_a|127.0.0.1|pension-office|true|office',
		'clerk_b|127.0.0.1|welfare-desk|true|desk',
		'clerk_b|127.0.0.1|welfare-desk|true|desk-live',
		'clerk_a|127.0.0.1|pension-office|true|office-live',
		'clerk_b|127.0.0.1|welfare-desk|true|desk-new',
	],
	'each login is in connection_log with the terminal it came from');
is( $node->safe_psql('postgres', q{
SELECT string_agg(DISTINCT login || ':' || terminal, ',') FROM olink.access_log WHERE login IN ('clerk_a', 'clerk_b')}),
	'clerk_a:pension-office,clerk_b:welfare-desk', 'and access_log names the terminal of each statement');

my @refused = split /\n/, $node->safe_psql(
	'postgres', q{
SELECT login || '|' || client_addr || '|' || coalesce(ssl::text, '-') || '|' || reason
  FROM olink.connection_log WHERE kind = 'refused' ORDER BY event_id});
note join("\n", @refused);
my @expected = (
	qr/^clerk_a\|127\.0\.0\.2\|true\|address 127\.0\.0\.2 is not a registered terminal of the login's counterpart$/,
	qr/^clerk_a\|127\.0\.0\.1\|false\|terminal "pension-office" is not on a dedicated line, and the connection does not use TLS$/,
	qr/^clerk_a\|\[local\]\|false\|a Unix-socket connection, and no terminal of the login's counterpart allows local connections$/,
	qr/^clerk_b\|127\.0\.0\.1\|true\|terminal "welfare-desk" requires its client certificate, and none was presented$/,
	qr/^clerk_b\|127\.0\.0\.1\|true\|the client certificate \(SHA-256 $fp{client2}\) is not the one registered for terminal "welfare-desk"$/,
	qr/^clerk_b\|127\.0\.0\.1\|true\|the client certificate of terminal "welfare-desk" is invalidated$/,
	qr/^clerk_b\|127\.0\.0\.1\|true\|the client certificate \(SHA-256 $fp{client1}\) is not the one registered for terminal "welfare-desk"$/,
);
is(scalar(@refused), scalar(@expected), 'each refusal is in connection_log once');
for my $i (0 .. $#expected)
{
	like($refused[$i] // '', $expected[$i], "refusal " . ($i + 1) . " is on record with its reason");
}

is($node->safe_psql('postgres', 'SELECT count(*) FROM olink.verify_audit()'), '0', 'the audit store verifies clean');
$node->stop;
done_testing();
