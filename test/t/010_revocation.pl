# Revocation over TCP: when olink.revoke_credential, invalidate_password, suspend_counterpart or
# remove_terminal commits, every live session concerned is cut off at once, whatever it is doing:
# idle, idle in a transaction, holding a WITH HOLD cursor, sleeping in a query, or computing one.
# The time from the revoking statement's return to the session's end is printed (not asserted).
# Then: a revoked login is refused until it is issued again through the workflow; failed logins
# lock a credential until it is unlocked; an expired password is refused; and no password given
# to olink (issued, changed, or refused by the policy) is ever in the server log or the database
# in plaintext, while ALTER ROLE ... PASSWORD on a counterpart login is refused.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use OlinkTAP;
use CredentialTAP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = olink_node(
	'revocation', conf => q{
listen_addresses = '127.0.0.1'
log_statement = 'all'
log_min_error_statement = error
olink.audit_internal = on
});
open my $hba, '>', $node->data_dir . '/pg_hba.conf' or die;
print $hba "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n";
close $hba;
$node->reload;

# pension (reg.people, the purpose pension-check, the terminal pension-test on loopback) and two
# more counterparts with a loopback terminal each, all on dedicated lines (no TLS needed)
olink_counterpart($node);
$node->safe_psql(
	'postgres', q{
SELECT olink.add_counterpart(name => 'welfare', necessity => 'Welfare office', approved_by => 'Board',
                             approved_on => '2026-04-01');
SELECT olink.add_terminal(counterpart => 'welfare', name => 'welfare-desk', manager => 'desk manager',
                          addresses => '{127.0.0.1/32}', dedicated_line => true);
SELECT olink.add_counterpart(name => 'benefits', necessity => 'Benefits office', approved_by => 'Board',
                             approved_on => '2026-04-01');
SELECT olink.add_terminal(counterpart => 'benefits', name => 'benefits-desk', manager => 'desk manager',
                          addresses => '{127.0.0.1/32}', dedicated_line => true);
});
credential_staff($node, 'pension', 'welfare', 'benefits');
my %password = (
	clerk1 => 'First-Pass-101',
	clerk2 => 'Second-Pass-202',
	w_clerk => 'Third-Pass-303',
	b_clerk => 'Fourth-Pass-404',
	clerk_lock => 'Fifth-Pass-505',
	clerk_exp => 'Sixth-Pass-606',);
my %counterpart = (w_clerk => 'welfare', b_clerk => 'benefits');
for my $login (sort keys %password)
{
	issue_through_workflow($node, $counterpart{$login} // 'pension', $login, $password{$login});
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM olink.credentials WHERE status = 'active' AND request_id IS NOT NULL}),
	'6', 'six credentials issued through the workflow');

my $port = $node->port;
sub tcp { my ($login, $pw) = @_; return "host=127.0.0.1 port=$port dbname=postgres user=$login password=" . ($pw // $password{$login}); }

# the test's own sessions: one that revokes, one that watches pg_stat_activity; the watch runs in
# the server, polling every millisecond, and gives the time (epoch) each session left it
$node->safe_psql(
	'postgres', q{
CREATE FUNCTION public.watch_sessions(pids int[], timeout_s float8) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    remaining int[] := pids;
    result text := '';
    p int;
    t float8;
    give_up timestamptz := clock_timestamp() + make_interval(secs => timeout_s);
BEGIN
    WHILE cardinality(remaining) > 0 AND clock_timestamp() < give_up LOOP
        PERFORM pg_stat_clear_snapshot();
        t := extract(epoch FROM clock_timestamp());
        FOR p IN SELECT unnest(remaining) EXCEPT SELECT a.pid FROM pg_stat_activity a LOOP
            result := result || p || ':' || t || ' ';
            remaining := array_remove(remaining, p);
        END LOOP;
        PERFORM pg_sleep(0.001);
    END LOOP;
    RETURN result;
END
$$;
});
my $admin = session_start($node->connstr('postgres') . ' application_name=admin');
my $monitor = session_start($node->connstr('postgres') . ' application_name=monitor');

# A live session of $login, doing $kind: idle, idle_tx (idle in a transaction that read a protected
# table), cursor (holding a WITH HOLD cursor over it), sleep (in pg_sleep(30)), compute (in a long
# CPU-bound query).  Returns [kind, session, pid].
sub live_session
{
	my ($login, $kind) = @_;
	my $s = session_start(tcp($login) . " application_name=$kind");
	my $pid = session_query($s, 'SELECT pg_backend_pid()');
	if ($kind eq 'idle_tx')
	{
		session_query($s, q{SET olink.purpose = 'pension-check'});
		is(session_query($s, 'BEGIN; SELECT name FROM reg.people WHERE id = 1'), 'person 1', "$login/$kind: in a transaction");
	}
	elsif ($kind eq 'cursor')
	{
		session_query($s, q{SET olink.purpose = 'pension-check'});
		is( session_query($s, q{BEGIN; DECLARE c CURSOR WITH HOLD FOR SELECT id, name FROM reg.people ORDER BY id;
COMMIT; FETCH 1 FROM c}), '1|person 1', "$login/$kind: a WITH HOLD cursor open after its transaction");
	}
	elsif ($kind eq 'sleep')
	{
		session_send($s, 'SELECT pg_sleep(30);');
	}
	elsif ($kind eq 'compute')
	{
		session_send($s, q{WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 2000000000)
SELECT count(*) FROM r;});
	}
	return [ $kind, $s, $pid ];
}

my %state = (idle => 'idle', idle_tx => 'idle in transaction', cursor => 'idle', sleep => 'active', compute => 'active');

# Opens sessions of $login (one of each kind), runs $sql in the admin session, and measures, for
# each session, the time from that statement's return to the session's end (pg_stat_activity
# polled every millisecond).  Checks that each ended within the deadline with "$why" told to its
# client, and that the bystanders (sessions that must live on) still work.  Returns kind => ms.
sub cut_off
{
	my ($what, $login, $kinds, $sql, $why, @bystanders) = @_;
	my @live = map { live_session($login, $_) } @$kinds;
	my $pids = join(',', map { $_->[2] } @live);
	my $want = join(',', map { $state{ $_->[0] } } @live);
	ok( wait_until(sub {
				($node->safe_psql('postgres', qq{
SELECT string_agg(state, ',' ORDER BY array_position('{$pids}'::int[], pid)) FROM pg_stat_activity WHERE pid IN ($pids)})
					// '') eq $want;
			}, 20),
		"$what: the sessions of $login are live: @$kinds");

	# the watch starts before the revoking statement is sent
	my $watch = session_query_async($monitor, "SELECT public.watch_sessions('{$pids}', 10)");
	wait_until(sub {
		$node->safe_psql('postgres', q{
SELECT count(*) FROM pg_stat_activity WHERE application_name = 'monitor' AND query LIKE '%watch_sessions%' AND state = 'active'}) eq '1';
	}, 10) or die 'the watch did not start';
	my $sent = time();
	my ($res, $err) = session_query($admin, $sql);
	my $returned = time();
	is($err, '', "$what: $sql");
	my %gone_at = map { split /:/ } split ' ', (session_wait($monitor, $watch) // '');
	my %ms;
	for my $l (@live)
	{
		my ($kind, $s, $pid) = @$l;
		ok(defined $gone_at{$pid}, "$what: the $kind session is gone at once");
		$ms{$kind} = ($gone_at{$pid} - $returned) * 1000 if defined $gone_at{$pid};
		$ms{"$kind/sent"} = ($gone_at{$pid} - $sent) * 1000 if defined $gone_at{$pid};
		# a busy session's client hears of it at once; an idle one when it next sends something
		wait_until(sub { !session_alive($s) }, 5) if $state{$kind} eq 'active';
		my ($after) = session_query($s, 'SELECT 1');
		my $stderr = session_finish($s);
		like($stderr,
			qr/FATAL:  terminating connection due to administrator command\nDETAIL:  olink cut the session off: \Q$why\E\.\n/,
			"$what: the $kind session's client is told why");
	}
	$ms{statement} = ($returned - $sent) * 1000;
	note "$what: the statement took " . sprintf('%.1f ms', $ms{statement}) . '; the sessions ended, after its return: '
	  . join(', ', map { sprintf('%s %.1f ms', $_, $ms{$_} // 'NaN') } @$kinds) . '; after it was sent: '
	  . join(', ', map { sprintf('%s %.1f ms', $_, $ms{"$_/sent"} // 'NaN') } @$kinds);
	for my $b (@bystanders)
	{
		is(session_query($b->[1], 'SELECT 1'), '1', "$what: the session of $b->[0] lives on");
	}
	return %ms;
}

# bystanders: a session of each login whose standing does not change at first
my %bystander = map { ($_ => [ $_, session_start(tcp($_) . ' application_name=bystander') ]) } qw(clerk2 w_clerk b_clerk);

# --- revoke_credential: every kind of session -------------------------------------------------------
my %ms = cut_off('revoke_credential', 'clerk1', [qw(idle idle_tx cursor sleep compute)],
	q{SELECT olink.revoke_credential('clerk1', 'left the office')},
	'its credential was revoked', values %bystander);
# from the revoking statement's return to the client (negative: the session was gone before the
# statement's result reached the client), and from the statement being sent
diag sprintf('revocation cut-off: idle %.1f ms, busy %.1f ms', $ms{idle} // 'NaN', $ms{sleep} // 'NaN');
diag sprintf('revocation cut-off, all kinds, from the return (from the send; the statement took %.1f ms): '
	  . 'idle %.1f (%.1f), idle in transaction %.1f (%.1f), WITH HOLD cursor %.1f (%.1f), pg_sleep %.1f (%.1f), CPU-bound query %.1f (%.1f) ms',
	$ms{statement}, map { ($ms{$_} // 'NaN', $ms{"$_/sent"} // 'NaN') } qw(idle idle_tx cursor sleep compute));

# the others, one after another; each time, the sessions of the next still live
cut_off('invalidate_password', 'clerk2', [qw(idle sleep)],
	q{SELECT olink.invalidate_password('clerk2', 'password seen on a sticky note')},
	'its password was invalidated', $bystander{w_clerk}, $bystander{b_clerk});
session_finish($bystander{clerk2}[1]);
cut_off('suspend_counterpart', 'w_clerk', [qw(idle sleep)],
	q{SELECT olink.suspend_counterpart('welfare', 'agreement under review')},
	'its counterpart was suspended', $bystander{b_clerk});
session_finish($bystander{w_clerk}[1]);
cut_off('remove_terminal', 'b_clerk', [qw(idle compute)],
	q{SELECT olink.remove_terminal('benefits-desk', 'desk moved to another building')},
	'its terminal was removed');
session_finish($bystander{b_clerk}[1]);

# --- after the revocations: no new login --------------------------------------------------------------
my ($ret, $out, $err) = try_login(tcp('clerk1'));
isnt($ret, 0, 'a revoked login is refused over TCP');
like($err, qr/password authentication failed for user "clerk1"/, 'with the generic message');
($ret, $out, $err) = try_login($node->connstr('postgres') . ' user=clerk1');
isnt($ret, 0, 'and through the socket of its local terminal');
($ret, $out, $err) = try_login(tcp('clerk2'));
isnt($ret, 0, 'a login whose password was invalidated is refused');
($ret, $out, $err) = try_login(tcp('w_clerk'));
isnt($ret, 0, 'a login of a suspended counterpart is refused');
($ret, $out, $err) = try_login(tcp('b_clerk'));
isnt($ret, 0, 'a login whose only terminal was removed is refused');
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
sub last_refusal
{
	my ($login) = @_;
	return $node->safe_psql('postgres', qq{
SELECT reason FROM olink.connection_log WHERE kind = 'refused' AND login = '$login' ORDER BY event_id DESC LIMIT 1});
}
is(last_refusal('clerk1'), 'the credential is revoked', 'connection_log: the credential is revoked');
is(last_refusal('w_clerk'), 'the counterpart is suspended', 'connection_log: the counterpart is suspended');
is(last_refusal('b_clerk'), q{address 127.0.0.1 is not a registered terminal of the login's counterpart},
	'connection_log: no terminal');
is( $node->safe_psql('postgres', q{
SELECT string_agg(login || ':' || count, ',' ORDER BY login) FROM (
  SELECT login, count(*) FROM olink.connection_log WHERE kind = 'logout' AND login IN ('clerk1', 'clerk2', 'w_clerk', 'b_clerk')
     AND application_name <> 'bystander' GROUP BY login) s}),
	'b_clerk:2,clerk1:5,clerk2:2,w_clerk:2', 'every session cut off has its logout on record');

# --- issued again through the workflow, the revoked login gets in --------------------------------------
issue_through_workflow($node, 'pension', 'clerk1', 'Renewed-Pass-111');
($ret, $out, $err) = try_login(tcp('clerk1', 'Renewed-Pass-111'), q{SET olink.purpose = 'pension-check'; SELECT name FROM reg.people WHERE id = 2});
is($out, 'person 2', 'issued again, clerk1 gets in with its new password');
($ret, $out, $err) = try_login(tcp('clerk1'));
isnt($ret, 0, 'and not with the old one');
is( $node->safe_psql('postgres', q{
SELECT string_agg(action, ',' ORDER BY event_id) FROM olink.credential_history WHERE login = 'clerk1'}),
	'requested,approved,issued,revoked,requested,approved,issued', 'credential_history has the whole story');

# --- lockout ---------------------------------------------------------------------------------------------
my $attempts = $node->safe_psql('postgres', 'SHOW olink.lockout_attempts');
is($attempts, '5', 'olink.lockout_attempts is 5');
for my $n (1 .. $attempts)
{
	($ret, $out, $err) = try_login(tcp('clerk_lock', "Wrong-Pass-$n"));
	isnt($ret, 0, "wrong password $n of $attempts refused");
}
is( $node->safe_psql('postgres', q{
SELECT failed_logins || ':' || (locked_until > now() + interval '29 minutes') FROM olink.credentials WHERE login = 'clerk_lock'}),
	'5:true', 'olink.credentials shows the credential locked for olink.lockout_duration');
is( $node->safe_psql('postgres', q{SELECT failures FROM olink.lockouts() WHERE login = 'clerk_lock' AND locked_until IS NOT NULL}),
	'5', 'so does olink.lockouts()');
# the audit worker holds the password expired in the catalog: PostgreSQL's own SCRAM exchange then
# fails for every password, so a right guess is not confirmed (the door alone refuses only after)
ok( wait_until(sub { $node->safe_psql('postgres', q{
SELECT r.rolvaliduntil = '-infinity' AND c.locked_until IS NOT NULL
  FROM pg_roles r JOIN olink.credential c ON c.login = r.oid WHERE r.rolname = 'clerk_lock'}) eq 't' }, 10),
	'locked: the password is held expired (VALID UNTIL -infinity, olink.credential.locked_until)');
my $log_at = -s $node->logfile;
($ret, $out, $err) = try_login(tcp('clerk_lock'));
isnt($ret, 0, 'locked, even the right password is refused');
like($err, qr/password authentication failed for user "clerk_lock"/, 'with the generic message');
unlike($err, qr/locked/i, 'the client is not told it is locked');
like(slurp_file($node->logfile, $log_at), qr/User "clerk_lock" has an expired password/,
	'PostgreSQL ran its mock exchange: the right password was not checked, so not confirmed');
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
my @lock_reasons = split /\n/, $node->safe_psql('postgres', q{
SELECT reason FROM olink.connection_log WHERE kind = 'refused' AND login = 'clerk_lock' ORDER BY event_id});
like($lock_reasons[0] // '', qr/^password authentication failed for user "clerk_lock": failed login 1 of 5$/,
	'connection_log counts the first failure');
like($lock_reasons[4] // '', qr/failed login 5 of 5: the credential is now locked until /, 'and the fifth locks');
like($lock_reasons[5] // '', qr/^password authentication failed for user "clerk_lock": the credential is locked after 5 failed logins, until .* \(its password is held expired: no password was checked\)$/,
	'the right password while locked: the reason says locked, and that no password was checked');
# a password changed while locked stays held
$node->safe_psql('postgres', q{SET SESSION AUTHORIZATION manager; SELECT olink.change_password('clerk_lock', 'Fifth-Pass-555')});
is($node->safe_psql('postgres', q{SELECT rolvaliduntil = '-infinity' FROM pg_roles WHERE rolname = 'clerk_lock'}), 't',
	'a new password given while locked is held expired too');
$password{clerk_lock} = 'Fifth-Pass-555';
# the lock outlives a restart: read back from olink.credential, held, refused
$node->restart;
$admin = session_start($node->connstr('postgres') . ' application_name=admin');
ok( wait_until(sub { $node->safe_psql('postgres', q{
SELECT count(*) FROM olink.lockouts() WHERE login = 'clerk_lock' AND locked_until > now() + interval '25 minutes'}) eq '1' }, 10),
	'after a restart, the lockout is in force again until the same time');
($ret, $out, $err) = try_login(tcp('clerk_lock'));
isnt($ret, 0, 'and the right password is refused');
is($node->safe_psql('postgres', q{SELECT olink.unlock_credential('clerk_lock', 'holder called the help desk')}),
	't', 'unlock_credential');
is( $node->safe_psql('postgres', q{
SELECT coalesce(failed_logins, 0) || ':' || (locked_until IS NULL) FROM olink.credentials WHERE login = 'clerk_lock'}),
	'0:true', 'olink.credentials shows it unlocked');
is( $node->safe_psql('postgres', q{
SELECT (r.rolvaliduntil = c.password_expires_at) || ':' || (c.locked_until IS NULL)
  FROM pg_roles r JOIN olink.credential c ON c.login = r.oid WHERE r.rolname = 'clerk_lock'}),
	'true:true', 'unlock_credential lets the hold go: VALID UNTIL is when the password expires again');
($ret, $out, $err) = try_login(tcp('clerk_lock'), 'SELECT current_user');
is($out, 'clerk_lock', 'unlocked, the right password gets in');

# a lockout that runs out: the worker lets the hold go by itself
$node->safe_psql('postgres', q{ALTER SYSTEM SET olink.lockout_duration = 2; SELECT pg_reload_conf()});
for my $n (1 .. $attempts)
{
	try_login(tcp('clerk_lock', "Wrong-Again-$n"));
}
ok( wait_until(sub { $node->safe_psql('postgres', q{
SELECT rolvaliduntil = '-infinity' FROM pg_roles WHERE rolname = 'clerk_lock'}) eq 't' }, 10),
	'locked again for 2 seconds: held');
ok( wait_until(sub { $node->safe_psql('postgres', q{
SELECT (r.rolvaliduntil = c.password_expires_at) AND c.locked_until IS NULL
  FROM pg_roles r JOIN olink.credential c ON c.login = r.oid WHERE r.rolname = 'clerk_lock'}) eq 't' }, 10),
	'when the lockout runs out, the hold is let go');
($ret, $out, $err) = try_login(tcp('clerk_lock'), 'SELECT current_user');
is($out, 'clerk_lock', 'and the right password gets in');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET olink.lockout_duration; SELECT pg_reload_conf()});
is( $node->safe_psql('postgres', q{
SELECT string_agg(action, ',' ORDER BY event_id) FROM olink.credential_history
 WHERE login = 'clerk_lock' AND action IN ('locked', 'lock_ended', 'unlocked', 'password_changed')}),
	'locked,password_changed,unlocked,lock_ended,locked,lock_ended',
	'credential_history: each hold and its end, with the unlock');

# --- expiry ------------------------------------------------------------------------------------------------
my $expires = session_query($admin, q{SET olink.password_max_age = '3s';
SELECT olink.change_password('clerk_exp', 'Brief-Pass-6161');
RESET olink.password_max_age});
is( $node->safe_psql('postgres', q{
SELECT (c.password_expires_at = r.rolvaliduntil) || ':'
       || (r.rolvaliduntil BETWEEN now() AND now() + interval '4 seconds')
  FROM olink.credentials c JOIN pg_roles r ON r.rolname = c.login WHERE c.login = 'clerk_exp'}),
	'true:true', 'olink.password_max_age = 3s: the password is valid for 3 seconds (VALID UNTIL)');
($ret, $out, $err) = try_login(tcp('clerk_exp', 'Brief-Pass-6161'), 'SELECT current_user');
is($out, 'clerk_exp', 'before it expires it gets in');
ok( wait_until(sub { $node->safe_psql('postgres', q{
SELECT rolvaliduntil < now() FROM pg_roles WHERE rolname = 'clerk_exp'}) eq 't' }, 10),
	'the password expires');
($ret, $out, $err) = try_login(tcp('clerk_exp', 'Brief-Pass-6161'));
isnt($ret, 0, 'an expired password is refused over TCP');
like($err, qr/password authentication failed for user "clerk_exp"/, 'with the generic message');
($ret, $out, $err) = try_login($node->connstr('postgres') . ' user=clerk_exp');
isnt($ret, 0, 'and through the socket of its local terminal, where no password is asked');
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
my @exp_reasons = split /\n/, $node->safe_psql('postgres', q{
SELECT reason FROM olink.connection_log WHERE kind = 'refused' AND login = 'clerk_exp' ORDER BY event_id});
note join("\n", @exp_reasons);
like($exp_reasons[0] // '', qr/: the password expired at /, 'connection_log: the TCP refusal says the password expired');
like($exp_reasons[1] // '', qr/^the password expired at /, 'connection_log: so does the socket refusal');

# --- no password in plaintext ---------------------------------------------------------------------------
my $log_offset = -s $node->logfile;
my @secrets = qw(Issue-Secret-3141 Change-Secret-2718 Short-5ecr Issue-Secret-3141 Altered-Secret-1618 Holder-Secret-1414);
issue_through_workflow($node, 'pension', 'clerk_pw', 'Issue-Secret-3141');
is(session_query($admin, q{SELECT olink.change_password('clerk_pw', 'Change-Secret-2718') > now()}), 't',
	'change_password by a superuser');
my ($r, $e) = session_query($admin, q{SELECT olink.change_password('clerk_pw', 'Short-5ecr')});
like($e, qr/ERROR:  password is too short/, 'a short password is refused by the policy');
($r, $e) = session_query($admin, q{SELECT olink.change_password('clerk_pw', 'Issue-Secret-3141')});
like($e, qr/ERROR:  password was used before/, 'a password used before is refused');
($r, $e) = session_query($admin, q{\set VERBOSITY verbose
ALTER ROLE clerk_pw PASSWORD 'Altered-Secret-1618';
\set VERBOSITY default});
like($e, qr/ERROR:  42501: the password of counterpart login "clerk_pw" can be set only through olink/,
	'ALTER ROLE ... PASSWORD on a counterpart login is refused (42501)');
($ret, $out, $err) = try_login(tcp('clerk_pw', 'Change-Secret-2718'),
	q{SELECT olink.change_password('clerk_pw', 'Holder-Secret-1414') > now()});
is($out, 't', 'the holder changes its own password over TCP');
($ret, $out, $err) = try_login(tcp('clerk_pw', 'Holder-Secret-1414'), 'SELECT current_user');
is($out, 'clerk_pw', 'and logs in with it');
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');

my $log = substr(slurp_file($node->logfile), $log_offset);
like($log, qr/statement: SELECT olink\.issue_credential\(\d+, '\*{8}'\)/, 'the server log has issue_credential, redacted');
like($log, qr/ERROR:  password is too short\n.*DETAIL:  A counterpart password needs at least 12 characters[^\n]*\n\s+statement: SELECT olink\.change_password\('clerk_pw', '\*{8}'\)/,
	'and the statement of the refused password, redacted, after the error\'s own DETAIL');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM olink.access_log WHERE statement ~ ('^SELECT olink\.change_pass' || 'word\(''clerk_pw'', ''\*{8}''\)')}),
	'4', 'access_log has the change_password calls, redacted');
my %seen = map { $_ => 1 } @secrets;
for my $secret (sort keys %seen)
{
	my @where;
	push @where, 'server log' if $log =~ /\Q$secret\E/;
	my $tables = $node->safe_psql(
		'postgres', qq{
SELECT string_agg(n.nspname || '.' || c.relname, ', ')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND (n.nspname = 'olink' OR c.relname = 'pg_authid')
   AND strpos(query_to_xml(format('SELECT * FROM %I.%I', n.nspname, c.relname), true, false, '')::text,
              '$secret') > 0});
	push @where, $tables if $tables ne '';
	is(join(', ', @where), '', "$secret is nowhere in plaintext");
}
is( $node->safe_psql('postgres', q{
SELECT count(*) || ':' || bool_and(secret LIKE 'SCRAM-SHA-256$%') FROM olink.password_history WHERE login = 'clerk_pw'}),
	'3:true', 'password_history keeps the three passwords set, as SCRAM secrets');

session_finish($admin);
session_finish($monitor);
is($node->safe_psql('postgres', 'SELECT count(*) FROM olink.verify_audit()'), '0', 'the audit store verifies clean');
$node->stop;
done_testing();
