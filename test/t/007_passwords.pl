# Passwords in statements reach neither the server log nor the audit store.  The server logs every
# statement (log_statement = all), the statement of every error (log_min_error_statement = error)
# and every duration line (log_min_duration_statement = 0); olink.audit_internal = on records the
# superuser's statements in access_log.  Afterwards no secret may be found in the log file, in
# access_log (statement, message) or in audit_text.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use OlinkTAP;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = olink_node(
	'passwords', conf => q{
log_statement = 'all'
log_min_error_statement = error
log_min_duration_statement = 0
olink.audit_internal = on
});

# [case, statement, its outcome in access_log]; each is sent as the second statement of a session
# of its own (psql -c 'SELECT 1' -c '...'; a syntax error as a first statement is checked at the end)
my @cases = (
	[ 1, q{CREATE ROLE pw_user PASSWORD 'Plain-Secret-1'}, 'allowed' ],
	[ 2, q{ALTER ROLE pw_user PASSWORD 'Plain-Secret-2'}, 'allowed' ],
	[ 3, q{ALTER ROLE nonexistent PASSWORD 'Plain-Secret-3'}, 'failed' ],
	[ 4, q{ALTER ROLE pw_user WITH LOGIN ENCRYPTED PASSWORD 'Plain-Secret-4'}, 'allowed' ],
	[ 5, q{ALTER ROLE pw_user PASSWORD E'Plain-Secret-5\\'s'}, 'allowed' ],
	[ 6, q{ALTER USER pw_user WITH PASSWORD $pw$Plain-Secret-6$pw$ VALID UNTIL 'infinity'}, 'allowed' ],
	[ 7, q{ALTER ROLE pw_user PASSWORD 'Plain-Secret-7' BOGUS}, 'failed' ],
	[ 8, q{SELECT 1; ALTER ROLE pw_user PASSWORD 'Plain-Secret-8'; SELECT 2}, 'allowed' ],
	[ 9, q{CREATE USER pw_other PASSWORD 'Plain-Secret-9' IN ROLE nonexistent}, 'failed' ],
	[ 10, q{alter role pw_user password 'Plain-Secret-10'}, 'allowed' ],
	# an unterminated literal: the parser's message quotes the literal, and "password" is not in it
	[ 11, q{ALTER ROLE pw_user PASSWORD 'Plain-Secret-11}, 'failed' ],
	# a password inside a dollar-quoted body, also quoted in the error's CONTEXT line
	[ 12, q{DO $$BEGIN EXECUTE 'ALTER ROLE nonexistent PASSWORD ''Plain-Secret-12'''; END$$}, 'failed' ],);

for my $c (@cases)
{
	my ($n, $sql, $outcome) = @$c;
	# a trailing comment names the case in access_log (none after an unterminated literal)
	my $text = $n == 11 ? $sql : "$sql /* case $n */";
	my ($ret, $out, $err) =
	  $node->psql('postgres', '', extra_params => [ '-c', 'SELECT 1', '-c', $text ]);
	is($ret == 0 ? 'allowed' : 'failed', $outcome, "case $n runs as expected: $sql");
}
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');

# every case is in access_log, its password redacted (the checks name no secret: olink records
# them, olink.audit_internal being on)
for my $c (grep { $_->[0] <= 10 } @cases)
{
	my ($n, $sql, $outcome) = @$c;
	my $where = $n == 8 ? q{statement LIKE 'ALTER ROLE pw_user PASSWORD%' AND event_id BETWEEN
	                        (SELECT min(event_id) FROM olink.access_log WHERE statement = 'SELECT 2 /* case 8 */') - 1 AND
	                        (SELECT min(event_id) FROM olink.access_log WHERE statement = 'SELECT 2 /* case 8 */')}
	                    : "statement LIKE '%/* case $n */%'";
	is( $node->safe_psql(
			'postgres', qq{
SELECT string_agg(outcome || ':' || (statement ~* 'PASSWORD ''\\*{8}'''), ',')
  FROM olink.access_log WHERE $where}),
		"$outcome:true", "case $n is in access_log, $outcome, the password redacted");
}

my $log = slurp_file($node->logfile);
like($log, qr/statement: CREATE ROLE pw_user PASSWORD '\*{8}'/,
	'the server log has the statements, redacted');
like($log, qr/statement: ALTER ROLE nonexistent PASSWORD '\*{8}'/,
	'the statement of an error is logged, redacted');

# where each secret is found: the server log, the audit store
my %store = map { split /\|/ } split /\n/, $node->safe_psql(
	'postgres', q{
SELECT n, (SELECT count(*) FROM olink.audit_text WHERE body ~ p)
        + (SELECT count(*) FROM olink.access_event WHERE message ~ p OR login ~ p OR purpose ~ p)
        + (SELECT count(*) FROM olink.connection_event WHERE reason ~ p OR application_name ~ p)
  FROM generate_series(1, 12) n, LATERAL (SELECT 'Plain-' || 'Secret-' || n || '(?![0-9])' AS p) s});
sub leaks
{
	my ($n) = @_;
	my @where;
	push @where, 'server log' if $log =~ /Plain-Secret-$n(?!\d)/;
	push @where, 'audit store' if $store{$n};
	return join(', ', @where);
}
for my $n (1 .. 12)
{
	is(leaks($n), '', "Plain-Secret-$n is nowhere");
}

# a statement that fails before any hook sees it (a syntax error), as a session's first statement
$node->psql('postgres', q{SELEC 'first of its session'});
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
is(access_count($node, q{statement = 'SELEC ''first of its session'''}),
	'1', 'a syntax error as the first statement of a session is in access_log');

$node->stop;
done_testing();
