# Logins over TCP with scram-sha-256: a wrong password is in connection_log as 'refused' with the
# reason (and its place in the lockout count); a right one gives 'login', from the counterpart's
# terminal, then 'logout' with the session's statement count.  A login that does not exist is on
# record as refused too, and a login of a suspended counterpart is refused at the door, the client
# told no more than for a wrong password.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use OlinkTAP;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = olink_node('login', conf => "listen_addresses = '127.0.0.1'\n");
olink_counterpart($node, 'clerk');
$node->safe_psql('postgres', q{
SET password_encryption = 'scram-sha-256';
SELECT olink.change_password('clerk', 'Right-Pass-1');
});
# password over TCP, trust on the socket (for the test's own connections)
open my $hba, '>', $node->data_dir . '/pg_hba.conf' or die;
print $hba "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n";
close $hba;
$node->reload;

my $tcp = 'host=127.0.0.1 port=' . $node->port . ' dbname=postgres application_name=login-test';

$node->connect_fails("$tcp user=clerk password=Wrong-Pass-1", 'a wrong password is refused',
	expected_stderr => qr/password authentication failed for user "clerk"/);
$node->connect_fails("$tcp user=nobody password=Wrong-Pass-2", 'an unknown login is refused',
	expected_stderr => qr/password authentication failed for user "nobody"/);
# psql over TCP with a connection string of its own: ($ret, $stdout, $stderr)
sub tcp_psql
{
	my ($connstr, $sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-XAtq', '-d', $connstr, '-c', $sql ], '>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}
my ($ret, $out, $err) = tcp_psql("$tcp user=clerk password=Right-Pass-1",
	q{SELECT name FROM reg.people WHERE id = 2; SELECT 1; SELECT ward FROM reg.people});
like($out, qr/^person 2\n1\n?\z/, 'the right password gets in');
like($err, qr/permission denied for column "ward"/, 'and the session runs its statements');
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');

my $rows = $node->safe_psql(
	'postgres', q{
SELECT kind, login, client_addr, application_name, coalesce(terminal, ''), coalesce(reason, ''),
       coalesce(statements::text, '')
  FROM olink.connection_log ORDER BY event_id});
my @rows = split /\n/, $rows;
note $rows;
is(scalar(@rows), 4, 'four connection events');
is($rows[0], 'refused|clerk|127.0.0.1|login-test||password authentication failed for user "clerk": failed login 1 of 5|',
	'the wrong password: refused, with login, address, reason and the lockout count');
is($rows[1], 'refused|nobody|127.0.0.1|login-test||password authentication failed for user "nobody"|',
	'the unknown login: refused, with the reason');
is($rows[2], 'login|clerk|127.0.0.1|login-test|pension-test||', 'the right password: login, from its terminal');
like($rows[3], qr/^logout\|clerk\|127\.0\.0\.1\|login-test\|pension-test\|\|\d+$/, 'then logout, with a statement count');
my ($count) = $rows[3] =~ /\|(\d+)$/;
my $logged = $node->safe_psql(
	'postgres', q{
SELECT count(*) FROM olink.access_log a JOIN olink.connection_log c USING (session_id)
 WHERE c.kind = 'login' AND c.login = 'clerk'});
is($count, $logged, "the logout's statement count ($count) is the number of the session's access events");
is( $node->safe_psql('postgres', q{
SELECT string_agg(outcome, ',' ORDER BY event_id) FROM olink.access_log WHERE login = 'clerk'}),
	'allowed,allowed,denied', 'the session\'s statements are in access_log');
is( $node->safe_psql('postgres', q{
SELECT count(DISTINCT session_id) FROM olink.connection_log WHERE kind = 'refused'}),
	'2', 'each refused attempt has a session id of its own');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM olink.connection_log WHERE reason ~ 'Wrong-Pass|Right-Pass'}),
	'0', 'no password in the connection log');

# a login of a suspended counterpart: refused at the door, with the right password; the client is
# told what a wrong password would tell it, the connection log says why
$node->safe_psql('postgres', q{SELECT olink.suspend_counterpart('pension', 'audit test')});
($ret, $out, $err) = tcp_psql("$tcp user=clerk password=Right-Pass-1", 'SELECT name FROM reg.people WHERE id = 2');
isnt($ret, 0, 'a login of a suspended counterpart is refused');
like($err, qr/password authentication failed for user "clerk"/, 'with the message of a wrong password');
unlike($err, qr/suspend/, 'the client is not told why');
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
is( $node->safe_psql('postgres', q{
SELECT string_agg(kind, ',' ORDER BY event_id) FROM olink.connection_log WHERE login = 'clerk'}),
	'refused,login,logout,refused', 'the refusal is on record after the earlier login and logout');
is( $node->safe_psql('postgres', q{
SELECT reason FROM olink.connection_log WHERE login = 'clerk' ORDER BY event_id DESC LIMIT 1}),
	'the counterpart is suspended', 'with its reason');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM olink.access_log WHERE login = 'clerk' AND message LIKE '%suspended%'}),
	'0', 'and no statement of it ran');

# a counterpart login to another database, where olink neither enforces nor audits: refused
$node->safe_psql('postgres', 'CREATE DATABASE elsewhere');
my $tcp_elsewhere = 'host=127.0.0.1 port=' . $node->port . ' dbname=elsewhere application_name=login-test';
# the client hears what a wrong password would tell it: a right password must not be confirmed
$node->connect_fails("$tcp_elsewhere user=clerk password=Right-Pass-1",
	'a counterpart login outside olink.database is refused',
	expected_stderr => qr/password authentication failed for user "clerk"/);
is($node->safe_psql('elsewhere', 'SELECT 1'), '1', 'an internal login there is not');
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
is( $node->safe_psql('postgres', q{
SELECT kind || ':' || database || ':' || reason FROM olink.connection_log WHERE login = 'clerk' ORDER BY event_id DESC LIMIT 1}),
	'refused:elsewhere:counterpart logins may connect only to database "postgres"',
	'the refusal is in the connection log, with the reason');

# internal logins are recorded only with olink.audit_connections = all
$node->safe_psql('postgres', q{CREATE ROLE clerk_internal LOGIN});
$node->safe_psql('postgres', 'SELECT 1', extra_params => [ '-U', 'clerk_internal' ]);
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
is( $node->safe_psql('postgres', q{SELECT count(*) FROM olink.connection_log WHERE login = 'clerk_internal'}),
	'0', 'an internal login is not recorded by default');
$node->safe_psql('postgres', q{ALTER SYSTEM SET olink.audit_connections = 'all'});
$node->reload;
$node->poll_query_until('postgres', q{SELECT current_setting('olink.audit_connections') = 'all'})
  or die 'olink.audit_connections did not change';
$node->safe_psql('postgres', 'SELECT 1', extra_params => [ '-U', 'clerk_internal' ]);
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
is( $node->safe_psql('postgres', q{
SELECT string_agg(kind, ',' ORDER BY event_id) FROM olink.connection_log WHERE login = 'clerk_internal'}),
	'login,logout', 'with olink.audit_connections = all it is');

is($node->safe_psql('postgres', 'SELECT count(*) FROM olink.verify_audit()'),
	'0', 'the audit store verifies clean');
$node->stop;
done_testing();
