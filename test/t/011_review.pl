# The fixes of the credential review (commit b2fa32b), one block each.  Every assertion fails on
# the code before the fix (b2fa32b^), except those named "control: ...", which show that the
# setup worked or that what must keep working does, and (formerly TODO) ones that found bugs of the fix, fixed since.
#  1. olink's own queries run with search_path pg_catalog: an operator or function of a schema on
#     the session's search_path is never run by them (they run as superuser)
#  2. a registry change by hand, in autocommit, is published at its commit
#  3. a session that logged in before its role became a credential is cut off at the issue
#  4. the role is checked again at the issue; roles with members or owned objects are refused
#  5. passwords are hidden in EXECUTE, quoted names, literals before the call, and the
#     extended protocol's parameters
#  6. a counterpart login's validity and attributes are set only by olink
#  7. failures from where no terminal of the counterpart is are not counted towards lockout
#  8. issue and others' password changes by the counterpart's designated manager only
#  9. an invalidated certificate cannot be registered again
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use OlinkTAP;
use CredentialTAP;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

# restart_after_crash: the extended-protocol block at the end crashes the backend (see there)
my $node = olink_node(
	'review', crash_restart => 1, conf => q{
listen_addresses = '127.0.0.1'
log_statement = 'all'
log_min_error_statement = error
log_parameter_max_length = -1
log_parameter_max_length_on_error = -1
olink.audit_internal = on
});
open my $hba, '>', $node->data_dir . '/pg_hba.conf' or die;
# 127.0.0.0/8: a client at 127.0.0.2 (the relay) passes pg_hba.conf, so that olink decides
print $hba "local all all trust\nhost all all 127.0.0.0/8 scram-sha-256\n";
close $hba;
$node->reload;

# three counterparts with a loopback terminal each, on dedicated lines (no TLS needed)
$node->safe_psql(
	'postgres', q{
SELECT olink.add_counterpart(name => n, necessity => n || ' office', approved_by => 'Board',
                             approved_on => '2026-04-01')
  FROM unnest('{pension,benefits,welfare}'::text[]) n;
SELECT olink.add_terminal(counterpart => n, name => n || '-desk', manager => 'desk manager',
                          addresses => '{127.0.0.1/32}', dedicated_line => true)
  FROM unnest('{pension,benefits,welfare}'::text[]) n;
CREATE ROLE manager2 LOGIN;
GRANT olink_credential_manager TO manager2;
SELECT olink.designate_credential_manager('welfare', 'manager2');
});
# "manager" manages pension and benefits, "manager2" welfare
credential_staff($node, 'pension', 'benefits');
my %password = (
	p_clerk => 'Office-Pass-101',
	p_lock => 'Lockout-Pass-202',
	p_pw => 'Policy-Pass-303',
	b_clerk => 'Desk-Pass-404',);
issue_through_workflow($node, 'pension', $_, $password{$_}) for qw(p_clerk p_lock p_pw);
issue_through_workflow($node, 'benefits', 'b_clerk', $password{b_clerk});
$node->safe_psql(
	'postgres', q{
SET SESSION AUTHORIZATION officer;
SELECT olink.request_credential('welfare', 'w_clerk', 'holder of w_clerk');
SET SESSION AUTHORIZATION manager2;
SELECT olink.approve_credential(request_id) FROM olink.credential_requests WHERE login = 'w_clerk';
SELECT olink.issue_credential(request_id, 'Window-Pass-505') FROM olink.credential_requests WHERE login = 'w_clerk';
});
$password{w_clerk} = 'Window-Pass-505';
is( $node->safe_psql('postgres', q{SELECT string_agg(login || ':' || status, ',' ORDER BY login) FROM olink.credentials}),
	'b_clerk:active,p_clerk:active,p_lock:active,p_pw:active,w_clerk:active', 'control: five credentials issued');

my $port = $node->port;
sub tcp { my ($login, $pw, $p) = @_; return "host=127.0.0.1 port=" . ($p // $port) . " dbname=postgres user=$login password=" . ($pw // $password{$login}); }
sub socket_as { my ($login) = @_; return $node->connstr('postgres') . " user=$login"; }

# runs $sql as the superuser with VERBOSITY verbose: ($ret, $stdout, $stderr)
sub run_sql
{
	my ($sql) = @_;
	my ($out, $err);
	my $ret = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql", stdout => \$out, stderr => \$err);
	return ($ret, $out, $err);
}

sub log_since { my ($offset) = @_; return substr(slurp_file($node->logfile), $offset); }

# =====================================================================================================
# 1. search_path: a schema's operator or function is never run by olink's own queries (as superuser)
# =====================================================================================================
# a table nobody but a superuser can write, and a record of every call of the planted functions
$node->safe_psql(
	'postgres', q{
CREATE TABLE public.pwned (who name, what text);
CREATE ROLE plain LOGIN;
CREATE SCHEMA evil AUTHORIZATION plain;
CREATE SCHEMA mevil AUTHORIZATION manager;
});
# what a planted function does: make its owner superuser, write to public.pwned, and record the call
sub planted
{
	my ($schema, $owner) = @_;
	my $body = qq{
BEGIN
    BEGIN INSERT INTO $schema.calls VALUES (current_user, TG); EXCEPTION WHEN OTHERS THEN NULL; END;
    BEGIN EXECUTE 'ALTER ROLE $owner SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
    BEGIN INSERT INTO public.pwned VALUES (current_user, TG); EXCEPTION WHEN OTHERS THEN NULL; END;
    RETURN RESULT;
END};
	my $eq = $body =~ s/TG/'oid ='/gr =~ s/RESULT/pg_catalog.oideq(a, b)/r;
	my $left = $body =~ s/TG/'left'/gr =~ s/RESULT/pg_catalog.left(s, n)/r;
	return qq{
CREATE TABLE $schema.calls (who name, what text);
CREATE FUNCTION $schema.oid_eq(a oid, b oid) RETURNS boolean LANGUAGE plpgsql AS \$\$$eq\$\$;
CREATE OPERATOR $schema.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = $schema.oid_eq);
CREATE FUNCTION $schema.left(s text, n integer) RETURNS text LANGUAGE plpgsql AS \$\$$left\$\$;
};
}
my ($ret, $out, $err) = try_login(socket_as('plain'), planted('evil', 'plain'));
is($err, '', 'control: plain plants evil.=(oid,oid) and evil.left(text,integer) in its schema');
($ret, $out, $err) = try_login(socket_as('manager'), planted('mevil', 'manager'));
is($err, '', 'control: the credential manager plants the same in mevil');

# plain logs in with evil first on its search_path: olink reads the registry for the new session
($ret, $out, $err) = try_login(socket_as('plain') . q{ options='-c search_path=evil,pg_catalog'},
	'SELECT 1; SHOW search_path');
is($out, "1\nevil,pg_catalog", 'control: plain runs a statement with search_path = evil, pg_catalog');
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'plain'}), 'f',
	'plain is still not a superuser');
is($node->safe_psql('postgres', 'SELECT count(*) FROM public.pwned'), '0',
	'nothing was written to the table only a superuser can write');
is($node->safe_psql('postgres', q{SELECT count(*) FROM evil.calls WHERE who <> 'plain'}), '0',
	'olink never called evil.= (or evil.left) as another role');
# the trap is live: under that search_path "=" on oids is evil's
($ret, $out, $err) = try_login(socket_as('plain') . q{ options='-c search_path=evil,pg_catalog'},
	'SELECT 1::oid = 1::oid');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT who || ':' || what, ',') FROM evil.calls}), 'plain:oid =',
	'control: the trap is live: under that search_path, = on oids is evil.=, run as plain by plain\'s own statement');

# the credential manager changes a password with mevil first: the registry is read at PRE_COMMIT
($ret, $out, $err) = try_login(socket_as('manager') . q{ options='-c search_path=mevil,pg_catalog'},
	q{SELECT olink.change_password('p_clerk', 'Evil-Path-Pass-606') > now()});
is($out, 't', 'control: the credential manager changes p_clerk\'s password with search_path = mevil, pg_catalog');
$password{p_clerk} = 'Evil-Path-Pass-606';
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'manager'}), 'f',
	'the credential manager is still not a superuser');
is($node->safe_psql('postgres', 'SELECT count(*) FROM public.pwned'), '0', 'and public.pwned is still empty');
is($node->safe_psql('postgres', q{SELECT count(*) FROM mevil.calls WHERE who <> 'manager'}), '0',
	'olink never called mevil.left (or mevil.=) as another role');
($ret, $out) = try_login(tcp('p_clerk'), 'SELECT current_user');
is($out, 'p_clerk', 'control: and the new password is in force');

# =====================================================================================================
# 2. a registry change by hand, in autocommit, is published at its commit
# =====================================================================================================
my $b_live = session_start(tcp('b_clerk') . ' application_name=b-live');
my $b_pid = session_query($b_live, 'SELECT pg_backend_pid()');
($ret, $out, $err) = run_sql(q{UPDATE olink.terminal SET status = 'removed', status_reason = 'by hand' WHERE name = 'benefits-desk'});
is($ret, 0, 'control: the superuser removes benefits-desk by hand, with UPDATE in autocommit');
ok( wait_until(sub { $node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE pid = $b_pid") eq '0' }, 10),
	'the live session of b_clerk is gone');
my ($after, $cut_err) = session_query($b_live, 'SELECT 1');
$cut_err .= session_finish($b_live);
like($cut_err, qr/FATAL:  terminating connection due to administrator command\nDETAIL:  olink cut the session off: its terminal was removed\.\n/,
	'its client is told its terminal was removed');
($ret, $out, $err) = try_login(tcp('b_clerk'));
isnt($ret, 0, 'a new login of b_clerk is refused');
like($err, qr/password authentication failed for user "b_clerk"/, 'with the generic message');

# =====================================================================================================
# 3. a session from before the role was a credential is cut off when the credential is issued
# =====================================================================================================
$node->safe_psql('postgres', q{CREATE ROLE late LOGIN PASSWORD 'Late-Normal-Pass-1'});
my $late = session_start(tcp('late', 'Late-Normal-Pass-1') . ' application_name=late');
my $late_pid = session_query($late, 'SELECT pg_backend_pid()');
is(session_query($late, 'SELECT current_user'), 'late', 'control: late is logged in over TCP, an internal login');
issue_through_workflow($node, 'pension', 'late', 'Tardy-Issued-707');
ok( wait_until(sub { $node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE pid = $late_pid") eq '0' }, 10),
	'issuing late as a credential ends the session it had before');
($after, $cut_err) = session_query($late, 'SELECT 1');
$cut_err .= session_finish($late);
like($cut_err, qr/FATAL:  terminating connection due to administrator command/, 'its client is told it was terminated');
($ret, $out) = try_login(tcp('late', 'Tardy-Issued-707'), 'SELECT current_user');
is($out, 'late', 'control: late logs in again with the issued password, through the door');
# only those: the parallel workers of a session that passed the door are not "sessions that never
# passed it" (a regression check of this fix, not a proof of it: it held before the fix)
my $par = session_start(tcp('late', 'Tardy-Issued-707') . ' application_name=late-parallel');
session_query($par, 'SET force_parallel_mode = on; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0');
my $par_mark = session_query_async($par, q{SELECT 'done', pg_sleep(2)});
wait_until(sub { $node->safe_psql('postgres', q{
SELECT count(*) FROM pg_stat_activity WHERE usename = 'late' AND backend_type = 'parallel worker'}) eq '1' }, 10)
  or diag 'no parallel worker of late was seen';
$node->safe_psql('postgres', q{
SELECT olink.add_terminal(counterpart => 'welfare', name => 'welfare-annex', manager => 'desk manager',
                          addresses => '{10.9.7.0/24}', dedicated_line => true)});
my ($par_out, $par_err) = session_wait($par, $par_mark);
session_finish($par);
is(($par_out // '') . ($par_err =~ /ERROR:.*/ ? " $&" : ''), 'done|',
	'a parallel query of a counterpart that passed the door survives an unrelated registry change');

# =====================================================================================================
# 4. the role is checked again at the issue; members and owned objects are refused
# =====================================================================================================
my $rq = $node->safe_psql('postgres', q{
SET SESSION AUTHORIZATION officer;
SELECT olink.request_credential('pension', 'newcomer', 'holder of newcomer')});
$node->safe_psql('postgres', q{CREATE ROLE newcomer LOGIN IN ROLE pg_read_all_stats});
$node->safe_psql('postgres', qq{SET SESSION AUTHORIZATION manager; SELECT olink.approve_credential($rq)});
($ret, $out, $err) = run_sql(qq{SET SESSION AUTHORIZATION manager; SELECT olink.issue_credential($rq, 'Arrival-Pass-808')});
like($err, qr/ERROR:  22023: role "newcomer" exists and cannot become a counterpart credential/,
	'a role made after the request, a member of pg_read_all_stats, is refused at the issue');
is($node->safe_psql('postgres', q{SELECT count(*) FROM olink.credentials WHERE login = 'newcomer'}), '0',
	'newcomer is no credential');
$node->safe_psql('postgres', q{
CREATE ROLE grouped LOGIN; CREATE ROLE insider; GRANT grouped TO insider;
CREATE ROLE owner1 LOGIN; CREATE TABLE public.owned (x int); ALTER TABLE public.owned OWNER TO owner1;
});
($ret, $out, $err) = run_sql(q{SET SESSION AUTHORIZATION officer; SELECT olink.request_credential('pension', 'grouped', 'holder')});
like($err, qr/ERROR:  22023: role "grouped" has members and cannot become a counterpart credential/,
	'a role that has members is refused at the request');
($ret, $out, $err) = run_sql(q{SET SESSION AUTHORIZATION officer; SELECT olink.request_credential('pension', 'owner1', 'holder')});
like($err, qr/ERROR:  22023: role "owner1" owns objects and cannot become a counterpart credential/,
	'a role that owns a table is refused at the request');
is($node->safe_psql('postgres', q{SELECT count(*) FROM olink.credential_requests WHERE login IN ('grouped', 'owner1')}), '0',
	'neither request was filed');

# =====================================================================================================
# 5. passwords hidden: EXECUTE, a quoted name, a literal before the call (parameters: 5b, at the end)
# =====================================================================================================
my $offset = -s $node->logfile;
my %secret = (execute => 'Exec-Secret-4242', quoted => 'Quoted-Secret-4343', with => 'With-Secret-4444');
my $admin = session_start($node->connstr('postgres') . ' application_name=admin');
my ($res, $e) = session_query($admin, q{PREPARE p(name, text) AS SELECT olink.change_password($1, $2)});
is($e, '', 'control: PREPARE p AS SELECT olink.change_password($1, $2)');
($res, $e) = session_query($admin, qq{EXECUTE p('p_pw', '$secret{execute}')});
ok($e eq '' && $res ne '', 'control: EXECUTE p sets a password');
($res, $e) = session_query($admin, qq{SELECT olink."change_password"('p_pw', '$secret{quoted}')});
ok($e eq '' && $res ne '', 'control: olink."change_password" (a quoted name) sets a password');
($res, $e) = session_query($admin, qq{WITH x AS (SELECT '$secret{with}'::text AS pw) SELECT olink.change_password('p_pw', pw) FROM x});
ok($e eq '' && $res ne '', 'control: a password literal before the call sets a password');
session_finish($admin);
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');

my $log = log_since($offset);
like($log, qr/LOG:  statement: EXECUTE p\('\*{8}', '\*{8}'\)/, 'the server log has the EXECUTE, its literals hidden');
like($log, qr/LOG:  statement: SELECT olink\."change_password"\('p_pw', '\*{8}'\)/, 'the quoted call, its password hidden');
like($log, qr/LOG:  statement: WITH x AS \(SELECT '\*{8}'::text AS pw\)/, 'the literal before the call, hidden');
for my $what (sort keys %secret)
{
	my @where;
	push @where, 'server log' if $log =~ /\Q$secret{$what}\E/;
	push @where, 'olink.access_log'
	  if $node->safe_psql('postgres', qq{SELECT count(*) FROM olink.access_log WHERE strpos(statement, '$secret{$what}') > 0}) ne '0';
	is(join(', ', @where), '', "$what: $secret{$what} is neither in the server log nor in olink.access_log");
}

# =====================================================================================================
# 6. a counterpart login's validity and attributes are olink's
# =====================================================================================================
($ret, $out, $err) = run_sql(q{ALTER ROLE p_clerk VALID UNTIL 'infinity'});
like($err, qr/ERROR:  42501: the validity of counterpart login "p_clerk" is set only by olink/,
	'ALTER ROLE counterpart VALID UNTIL \'infinity\' by the superuser is refused (42501)');
($ret, $out, $err) = run_sql(q{ALTER ROLE p_clerk SUPERUSER});
like($err, qr/ERROR:  42501: counterpart login "p_clerk" cannot be given SUPERUSER/,
	'ALTER ROLE counterpart SUPERUSER is refused (42501)');
is( $node->safe_psql('postgres', q{
SELECT rolsuper || ':' || (rolvaliduntil = c.password_expires_at)
  FROM pg_roles r JOIN olink.credentials c ON c.login = r.rolname WHERE rolname = 'p_clerk'}),
	'false:true', 'p_clerk is unchanged: no superuser, its validity olink\'s');
($ret, $out, $err) = run_sql(q{ALTER ROLE plain VALID UNTIL 'infinity'});
is($ret, 0, 'control: ALTER ROLE of an internal role VALID UNTIL \'infinity\' still works');
is($node->safe_psql('postgres', q{SELECT rolvaliduntil FROM pg_roles WHERE rolname = 'plain'}), 'infinity', 'control: and takes effect');

# =====================================================================================================
# 7. failures from an address where no terminal of the counterpart is are not counted
# =====================================================================================================
my ($relay, $relay_port) = start_relay($port, '127.0.0.2');
$node->safe_psql('postgres', q{ALTER ROLE manager2 PASSWORD 'Manager2-Pass-1'});
($ret, $out) = try_login(tcp('manager2', 'Manager2-Pass-1', $relay_port),
	'SELECT client_addr FROM pg_stat_activity WHERE pid = pg_backend_pid()');
is($out, '127.0.0.2', 'control: through the relay the server sees the client at 127.0.0.2');
my $wrong = 0;
for my $n (1 .. 6)
{
	($ret) = try_login(tcp('p_lock', "Wrong-Pass-$n", $relay_port));
	$wrong++ if $ret != 0;
}
is($wrong, 6, 'control: six wrong passwords for p_lock from 127.0.0.2 are refused');
is($node->safe_psql('postgres', q{SELECT coalesce(sum(failures), 0) FROM olink.lockouts() WHERE login = 'p_lock'}), '0',
	'olink.lockouts() counts none of them');
stop_relay($relay);
($ret, $out) = try_login(tcp('p_lock'), 'SELECT current_user');
is($out, 'p_lock', 'the right password from 127.0.0.1 (its terminal) still gets in');
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
my @reasons = split /\n/, $node->safe_psql('postgres', q{
SELECT reason FROM olink.connection_log WHERE kind = 'refused' AND login = 'p_lock' AND client_addr = '127.0.0.2' ORDER BY event_id});
is(scalar(grep { /not a terminal of the counterpart/ } @reasons) . '/' . scalar(@reasons), '6/6',
	'connection_log: each refusal from 127.0.0.2 says "not a terminal of the counterpart"');
note $reasons[0] // '(none)';

# =====================================================================================================
# 8. issue and others' password changes by the counterpart's designated manager only
# =====================================================================================================
$rq = $node->safe_psql('postgres', q{
SET SESSION AUTHORIZATION officer;
SELECT olink.request_credential('pension', 'p_new', 'holder of p_new')});
$node->safe_psql('postgres', qq{SET SESSION AUTHORIZATION manager; SELECT olink.approve_credential($rq)});
($ret, $out, $err) = run_sql(qq{SET SESSION AUTHORIZATION manager2; SELECT olink.issue_credential($rq, 'Stranger-Pass-909')});
like($err, qr/ERROR:  42501: only the credential manager of the counterpart can issue its credentials/,
	'a credential manager of another counterpart cannot issue a pension credential (42501)');
($ret, $out, $err) = run_sql(q{SET SESSION AUTHORIZATION manager2; SELECT olink.change_password('p_clerk', 'Stranger-Pass-919')});
like($err, qr/ERROR:  42501: permission denied to change the password of "p_clerk"/,
	'nor change the password of a pension holder (42501)');
($ret, $out) = try_login(tcp('p_clerk'), 'SELECT current_user');
is($out, 'p_clerk', 'p_clerk\'s password is unchanged');
($ret, $out, $err) = run_sql(q{SET SESSION AUTHORIZATION manager2; SELECT olink.change_password('w_clerk', 'Window-Pass-929') > now()});
is($out, 't', 'control: manager2 changes the password of its own counterpart\'s holder');
($ret, $out, $err) = run_sql(qq{SET SESSION AUTHORIZATION manager; SELECT olink.issue_credential($rq, 'Designated-Pass-939') > 0});
is($out, 't', 'the designated manager issues the pension credential');
($ret, $out, $err) = run_sql(q{SET SESSION AUTHORIZATION manager; SELECT olink.change_password('p_clerk', 'Designated-Pass-949') > now()});
is($out, 't', 'control: and changes a pension holder\'s password');

# =====================================================================================================
# 9. an invalidated certificate cannot be registered again
# =====================================================================================================
my ($fp_a, $fp_b) = ('ab' x 32, 'cd' x 32);
$node->safe_psql('postgres', qq{
SELECT olink.add_terminal(counterpart => 'welfare', name => 'cert-desk', manager => 'desk manager',
                          addresses => '{10.9.9.0/24}', certificate_fingerprint => '$fp_a')});
is($node->safe_psql('postgres', qq{SELECT olink.invalidate_certificate('$fp_a', 'card lost')}), '1', 'control: certificate A invalidated');
($ret, $out, $err) = run_sql(qq{SELECT olink.replace_certificate('cert-desk', '$fp_a', 'card found again')});
like($err, qr/ERROR:  22023: certificate $fp_a was invalidated on /, 'replace_certificate with it again is refused');
($ret, $out, $err) = run_sql(qq{
SELECT olink.add_terminal(counterpart => 'welfare', name => 'other-desk', manager => 'desk manager',
                          addresses => '{10.9.8.0/24}', certificate_fingerprint => '$fp_a')});
like($err, qr/ERROR:  22023: certificate $fp_a was invalidated on /, 'add_terminal with it is refused');
($ret, $out, $err) = run_sql(qq{
SELECT olink.add_terminal(counterpart => 'welfare', name => 'other-desk', manager => 'desk manager',
                          addresses => '{10.9.8.0/24}', certificate_fingerprint => '} . uc(join(':', unpack('(A2)*', $fp_a))) . q{')});
like($err, qr/ERROR:  22023: certificate $fp_a was invalidated on /, 'also when spelled as openssl prints it');
($ret, $out, $err) = run_sql(qq{SELECT olink.replace_certificate('cert-desk', '$fp_b', 'new card')});
is($ret, 0, 'control: a new certificate replaces it');
is( $node->safe_psql('postgres', q{SELECT certificate_fingerprint || ':' || certificate_status FROM olink.terminals WHERE name = 'cert-desk'}),
	"$fp_b:valid", 'control: cert-desk holds the new certificate');
is($node->safe_psql('postgres', q{SELECT count(*) FROM olink.terminals WHERE name = 'other-desk'}), '0', 'no other-desk was made');

# =====================================================================================================
# 5b. the extended protocol's parameters
# =====================================================================================================
# pgbench -M extended is the client on this machine that sends parameters (no DBD::Pg, no psycopg):
# :login and :pw go as $1 and $2.  log_statement = all logs them in a "parameters:" DETAIL, and
# log_parameter_max_length_on_error = -1 in the CONTEXT of an error.
my %ext = (extended => 'Ext-Secret-4545', ext_error => 'ExtShort-46');
my $script = "$PostgreSQL::Test::Utils::tmp_check/change.sql";
open my $fh, '>', $script or die;
print $fh "SELECT olink.change_password(:login, :pw);\n";
close $fh;
sub pgbench_change
{
	my ($pw) = @_;
	my ($o, $r) = ('', '');
	IPC::Run::run([ 'pgbench', '-n', '-M', 'extended', '-t', '1', '-f', $script, '-D', 'login=p_pw', '-D', "pw=$pw",
			'-h', $node->host, '-p', $port, 'postgres' ], '<', \undef, '>', \$o, '2>', \$r);
	return ($? >> 8, $o, $r);
}
# after a crash the postmaster restarts (restart_after_crash): wait for it and the audit worker
sub server_back
{
	wait_until(sub { my ($r) = $node->psql('postgres', 'SELECT 1'); $r == 0 }, 30) or die 'the server did not come back';
	wait_worker($node);
	return;
}
$offset = -s $node->logfile;
($ret, $out, $err) = pgbench_change($ext{extended});
is($ret, 0, 'pgbench -M extended sets a password through a parameter');
unlike(log_since($offset), qr/terminated by signal/, 'and no server process crashes');
server_back();
like(log_since($offset), qr/LOG:  execute <unnamed>: SELECT olink\.change_password\(\$1, \$2\);?\n[^\n]*DETAIL:  parameters: hidden by olink, the statement sets a password\n/,
	'the extended-protocol statement is logged with its parameters hidden');
my $err_offset = -s $node->logfile;
($ret, $out, $err) = pgbench_change($ext{ext_error});
like($err, qr/password is too short/, 'a too-short password, as a parameter, is refused by the policy');
like(log_since($err_offset), qr/ERROR:  password is too short\n(?:[^\n]*\n)*?[^\n]*CONTEXT:  [^\n]*parameters hidden by olink/,
	'and the error\'s CONTEXT in the server log has its parameters hidden');
server_back();
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
$log = log_since($offset);
for my $what (sort keys %ext)
{
	my @where;
	push @where, 'server log' if $log =~ /\Q$ext{$what}\E/;
	push @where, 'olink.access_log'
	  if $node->safe_psql('postgres', qq{SELECT count(*) FROM olink.access_log WHERE strpos(statement, '$ext{$what}') > 0}) ne '0';
	is(join(', ', @where), '', "$what: $ext{$what} is neither in the server log nor in olink.access_log");
}

is($node->safe_psql('postgres', 'SELECT count(*) FROM olink.verify_audit()'), '0', 'control: the audit store verifies clean');
$node->stop;
done_testing();
