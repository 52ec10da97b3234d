# Lockout holds (第7(1)ウ) under attack.  While a credential is locked out, the audit worker holds
# its password expired in the catalog (VALID UNTIL '-infinity'), so that PostgreSQL's SCRAM confirms
# no right guess.  Here:
#  1. a counterpart that keeps its own credential's rows locked (a password change left open in a
#     transaction) cannot keep the worker from holding another credential, nor stall the audit; its
#     own hold follows as soon as its transaction ends;
#  2. an unlock that is rolled back unlocks nothing;
#  3. only the counterpart's designated credential manager unlocks (it lifts a safeguard);
#  4. a hold gives back the VALID UNTIL it found, for a login adopted with an expiry of its own.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use OlinkTAP;
use CredentialTAP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = olink_node(
	'hold', conf => q{
listen_addresses = '127.0.0.1'
olink.lockout_attempts = 3
});
open my $hba, '>', $node->data_dir . '/pg_hba.conf' or die;
print $hba "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n";
close $hba;
$node->reload;

olink_counterpart($node, ());
credential_staff($node, 'pension');
my %password = (blocker => 'Tall-Gate-Key-101', victim => 'Blue-River-Stone-202');
issue_through_workflow($node, 'pension', $_, $password{$_}) for sort keys %password;
$node->safe_psql(
	'postgres', q{
CREATE ROLE adoptee LOGIN PASSWORD 'Quiet-Lamp-Field-303' VALID UNTIL '2030-12-31 00:00:00+00';
SELECT olink._adopt_credential(counterpart => 'pension', login => 'adoptee');
CREATE ROLE other_manager LOGIN;
GRANT olink_credential_manager TO other_manager;
});

my $port = $node->port;
sub tcp { my ($login, $pw) = @_; return "host=127.0.0.1 port=$port dbname=postgres user=$login password=$pw"; }

sub held
{
	my ($login) = @_;
	return $node->safe_psql('postgres', qq{SELECT rolvaliduntil = '-infinity' FROM pg_roles WHERE rolname = '$login'});
}

# --- 1. a counterpart keeps its own rows locked ------------------------------------------------------
my $blocker = session_start(tcp('blocker', $password{blocker}));
is(session_query($blocker, q{BEGIN; SELECT olink.change_password('blocker', 'Tall-Gate-Key-111') IS NOT NULL}), 't',
	'the blocker changes its password in a transaction it leaves open (its credential and role rows locked)');
for my $n (1 .. 3)
{
	my ($ret) = try_login(tcp('blocker', "Wrong-Pass-$n"));
	isnt($ret, 0, "blocker: wrong password $n refused");
	($ret) = try_login(tcp('victim', "Wrong-Pass-$n"));
	isnt($ret, 0, "victim: wrong password $n refused");
}
is( $node->safe_psql('postgres', q{SELECT string_agg(login, ',' ORDER BY login) FROM olink.lockouts() WHERE locked_until IS NOT NULL}),
	'blocker,victim', 'both are locked out');
ok(wait_until(sub { held('victim') eq 't' }, 10), 'the victim is held, though the blocker keeps its own rows locked');
my $t0 = time;
$node->safe_psql('postgres', q{SELECT olink.flush_audit()});
ok(time - $t0 < 10, 'the audit worker is not stalled: flush_audit() returns');
is(held('blocker'), 'f', 'the blocker\'s own hold waits for its transaction');
session_query($blocker, 'ROLLBACK');
session_finish($blocker);
ok(wait_until(sub { held('blocker') eq 't' }, 10), 'once it ends, the worker tries again and holds the blocker too');
like(slurp_file($node->logfile), qr/olink: could not hold a locked-out password: canceling statement due to lock timeout/,
	'the failed attempt is in the server log');
my ($ret, $out, $err) = try_login(tcp('victim', $password{victim}));
isnt($ret, 0, 'the victim\'s right password is refused while locked');

# --- 2. an unlock that is rolled back -------------------------------------------------------------------
$node->safe_psql('postgres', q{
SET SESSION AUTHORIZATION manager;
BEGIN;
SELECT olink.unlock_credential('victim', 'by mistake');
ROLLBACK;
});
usleep(1_500_000);    # a wrongful release would come within the worker's next pass (200 ms)
is($node->safe_psql('postgres', q{SELECT count(*) FROM olink.lockouts() WHERE login = 'victim' AND locked_until IS NOT NULL}),
	'1', 'a rolled-back unlock leaves the lockout');
is(held('victim'), 't', 'and the hold');

# --- 3. only the designated manager unlocks -------------------------------------------------------------
($ret, $out, $err) = $node->psql('postgres', q{SET SESSION AUTHORIZATION other_manager;
SELECT olink.unlock_credential('victim', 'not mine to unlock')});
like($err, qr/only the credential manager of the counterpart can unlock its credentials/,
	'another credential manager may not unlock it');
is( $node->safe_psql('postgres', q{SET SESSION AUTHORIZATION manager; SELECT olink.unlock_credential('victim', 'help desk')}),
	't', 'the counterpart\'s manager unlocks it');
is( $node->safe_psql('postgres', q{
SELECT (r.rolvaliduntil = c.password_expires_at) || ':' || (c.locked_until IS NULL)
  FROM pg_roles r JOIN olink.credential c ON c.login = r.oid WHERE r.rolname = 'victim'}),
	'true:true', 'the hold is let go with it');
($ret, $out) = try_login(tcp('victim', $password{victim}), 'SELECT current_user');
is($out, 'victim', 'and the right password gets in');

# --- 4. the VALID UNTIL the hold found ------------------------------------------------------------------
for my $n (1 .. 3)
{
	try_login(tcp('adoptee', "Wrong-Pass-$n"));
}
ok(wait_until(sub { held('adoptee') eq 't' }, 10), 'an adopted login with VALID UNTIL 2030-12-31 is locked and held');
$node->safe_psql('postgres', q{SET SESSION AUTHORIZATION manager; SELECT olink.unlock_credential('adoptee', 'help desk')});
is($node->safe_psql('postgres', q{SELECT rolvaliduntil = '2030-12-31 00:00:00+00' FROM pg_roles WHERE rolname = 'adoptee'}),
	't', 'unlocked, it has its own VALID UNTIL back, not "infinity"');
($ret, $out) = try_login(tcp('adoptee', 'Quiet-Lamp-Field-303'), 'SELECT current_user');
is($out, 'adoptee', 'and gets in');
is( $node->safe_psql('postgres', q{
SELECT string_agg(action || ':' || done_by, ',' ORDER BY event_id) FROM olink.credential_history
 WHERE login = 'victim' AND action IN ('locked', 'lock_ended', 'unlocked')}),
	'locked:postgres,unlocked:manager,lock_ended:manager', 'credential_history: the hold, and who ended it');

$node->stop;
done_testing();
