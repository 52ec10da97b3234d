# Shared helpers of olink's TAP tests (test/t/*.pl): a throw-away server with olink preloaded, a
# protected table with a counterpart that may use it, and waits that poll with a deadline.
package OlinkTAP;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep time);

our @EXPORT = qw(olink_node olink_counterpart wait_until worker_pid wait_worker
  psql_as counterpart_psql access_count start_writer check_writes repeated_ids);

# how long any poll may wait before the test fails
our $DEADLINE = 60;

# A started node with olink preloaded and installed in database postgres.  %opts: conf => extra
# postgresql.conf lines; crash_restart => 1 turns restart_after_crash back on (Cluster.pm turns it
# off); init => extra arguments for Cluster::init.
sub olink_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} || {} });
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = 'olink'
olink.database = 'postgres'
max_prepared_transactions = 2
} . ($opts{crash_restart} ? "restart_after_crash = on\n" : '') . ($opts{conf} || ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION olink');
	wait_worker($node);
	return $node;
}

# A protected table reg.people, a counterpart "pension" with the purpose "pension-check" and the
# given logins (each with that purpose preset, so every session of theirs works under it).  The
# grant covers the columns id, name, income, note with SELECT, INSERT, UPDATE, DELETE; the column
# ward is not granted.
sub olink_counterpart
{
	my ($node, @logins) = @_;
	@logins = ('clerk') unless @logins;
	my $sql = q{
CREATE ROLE reg_owner NOLOGIN;
CREATE SCHEMA reg AUTHORIZATION reg_owner;
CREATE TABLE reg.people (id int PRIMARY KEY, name text NOT NULL, ward text NOT NULL DEFAULT 'north',
                         income numeric, note text);
INSERT INTO reg.people SELECT g, 'person ' || g, CASE WHEN g % 2 = 0 THEN 'north' ELSE 'south' END,
                              g * 1000, NULL FROM generate_series(1, 6) g;
ALTER TABLE reg.people OWNER TO reg_owner;
SELECT olink.protect(relation => 'reg.people', description => 'Residents');
SELECT olink.add_counterpart(name => 'pension', necessity => 'Pension office', approved_by => 'Board',
                             approved_on => '2026-04-01');
SELECT olink.add_agreement(counterpart => 'pension', title => 'Pension memo', purposes => ARRAY['pension-check'],
                           valid_from => '2026-01-01', staff_duties => 'Named staff', disposal_terms => 'Shred');
SELECT olink.grant_access(counterpart => 'pension', relation => 'reg.people',
                          privileges => ARRAY['select', 'insert', 'update', 'delete'],
                          columns => ARRAY['id', 'name', 'income', 'note'],
                          purposes => ARRAY['pension-check']);
GRANT USAGE ON SCHEMA reg TO olink_counterpart;
-- the test server's own sockets and loopback are the counterpart's terminal
SELECT olink.add_terminal(counterpart => 'pension', name => 'pension-test', manager => 'test operator',
                          addresses => '{127.0.0.1/32}', dedicated_line => true, local_connections => true);
};
	for my $login (@logins)
	{
		$sql .= qq{
CREATE ROLE $login LOGIN;
SELECT olink._adopt_credential(counterpart => 'pension', login => '$login');
ALTER ROLE $login SET olink.purpose = 'pension-check';
};
	}
	$node->safe_psql('postgres', $sql);
	return;
}

# poll $check (a code ref returning true when done) every 50 ms until it is true or the deadline
# passes; returns whether it became true
sub wait_until
{
	my ($check, $timeout) = @_;
	my $end = time() + ($timeout || $DEADLINE);
	while (time() < $end)
	{
		return 1 if $check->();
		usleep(50_000);
	}
	return $check->() ? 1 : 0;
}

# the audit worker's pid as audit_status() shows it ('' when none)
sub worker_pid
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		'SELECT coalesce(worker_pid::text, \'\') FROM olink.audit_status()');
}

# wait until a worker is attached (other than $not_pid, if given); returns its pid
sub wait_worker
{
	my ($node, $not_pid) = @_;
	my $pid = '';
	wait_until(
		sub {
			my ($ret, $out) = $node->psql('postgres',
				'SELECT worker_pid FROM olink.audit_status() WHERE worker_pid IS NOT NULL');
			$pid = $ret == 0 ? $out : '';
			return $pid ne '' && (!defined $not_pid || $pid ne $not_pid);
		}) or die "olink audit worker did not attach";
	return $pid;
}

# psql as another login: ($ret, $stdout, $stderr)
sub psql_as
{
	my ($node, $login, $sql, %params) = @_;
	my ($stdout, $stderr);
	my $ret = $node->psql(
		'postgres', $sql,
		stdout => \$stdout,
		stderr => \$stderr,
		extra_params => [ '-U', $login, @{ $params{extra_params} || [] } ],
		on_error_stop => $params{on_error_stop} // 0);
	return ($ret, $stdout, $stderr);
}

# a background psql session of a login (psql -XAtq, ON_ERROR_STOP off)
sub counterpart_psql
{
	my ($node, $login, %params) = @_;
	return $node->background_psql(
		'postgres',
		on_error_stop => 0,
		extra_params => [ '-U', $login, @{ $params{extra_params} || [] } ],
		%params{ grep { $_ ne 'extra_params' } keys %params });
}

# number of access_log rows matching a WHERE clause
sub access_count
{
	my ($node, $where) = @_;
	return $node->safe_psql('postgres', "SELECT count(*) FROM olink.access_log WHERE $where");
}

# A counterpart session running $count single-row transactions on reg.people from a script, in the
# background: odd n inserts row $base + n, even n adds 1 to the income of row 2.  Every statement
# returns its marker "$tag:n:" (kept in the row's note), so the markers printed are the statements
# whose result reached the client.  The script's first line prints "pid:<backend pid>".  Returns
# a hash: h (the IPC::Run harness), out and err (refs to the output), returned (a code ref giving
# the markers printed so far).
sub start_writer
{
	my ($node, $login, $tag, $base, $count) = @_;
	my $script = "SELECT 'pid:' || pg_backend_pid();\n";
	for my $n (1 .. $count)
	{
		my $m = "$tag:$n:";
		$script .=
		  $n % 2
		  ? "INSERT INTO reg.people (id, name, note) VALUES (" . ($base + $n) . ", 'new', '$m') RETURNING note;\n"
		  : "UPDATE reg.people SET income = income + 1, note = '$m' WHERE id = 2 RETURNING note;\n";
	}
	my $file = "$PostgreSQL::Test::Utils::tmp_check/writer-$tag.sql";
	open my $fh, '>', $file or die "could not write $file: $!";
	print $fh $script;
	close $fh;

	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'psql', '-XAtq', '-v', 'ON_ERROR_STOP=0', '-d', $node->connstr('postgres'),
			'-U', $login, '-f', $file
		],
		'>', \$out, '2>', \$err,
		IPC::Run::timeout($DEADLINE));
	my $w = { h => $h, out => \$out, err => \$err };
	$w->{returned} = sub { return $out =~ /^(\Q$tag\E:\d+:)$/mg; };
	$w->{pid} = sub { return $out =~ /^pid:(\d+)$/m ? $1 : undef; };
	# pump until at least $n markers are out (or the script ended)
	$w->{wait_for} = sub {
		my ($n) = @_;
		$h->pump while scalar(() = $out =~ /^\Q$tag\E:/mg) < $n && $h->pumpable;
		return scalar(() = $out =~ /^\Q$tag\E:/mg) >= $n;
	};
	return $w;
}

# After a crash: the writer's changes against the journal and the access log (see 002, 004).
# $returned: the markers that reached the client; $income_before: row 2's income before.
sub check_writes
{
	my ($node, $tag, $base, $returned, $income_before, $statements) = @_;
	my @returned = @$returned;
	local $Test::Builder::Level = $Test::Builder::Level + 1;

	cmp_ok(scalar(@returned), '<', $statements, "$tag: the crash came before the script ended");
	note "$tag: " . scalar(@returned) . " statements returned before the crash";

	# journal against the table, for the inserts
	my $bad = $node->safe_psql(
		'postgres', qq{
WITH j AS (SELECT (key->>'id')::int AS id, count(*) AS n FROM olink.change_journal
            WHERE op = 'insert' AND after->>'note' LIKE '$tag:%' GROUP BY 1),
     t AS (SELECT id FROM reg.people WHERE note LIKE '$tag:%' AND id > $base)
SELECT coalesce(t.id, j.id) || ':' || coalesce(j.n, 0) || ':' || (t.id IS NOT NULL)
  FROM t FULL JOIN j USING (id)
 WHERE t.id IS NULL OR j.n IS DISTINCT FROM 1});
	is($bad, '', "$tag: each inserted row has exactly one journal row, and no journal row lacks its row");

	my %in_table = map { $_ => 1 } split /\n/,
	  $node->safe_psql('postgres', "SELECT note FROM reg.people WHERE note LIKE '$tag:%'");
	my @missing = grep { my ($n) = /:(\d+):$/; $n % 2 && !$in_table{$_} } @returned;
	is("@missing", '', "$tag: every insert that returned is in the table");

	# the updates: the income moved by exactly the number of journaled updates, each once
	my ($nupd, $ndistinct) = split /\|/, $node->safe_psql(
		'postgres', qq{
SELECT count(*), count(DISTINCT after->>'note') FROM olink.change_journal
 WHERE op = 'update' AND key = '{"id": 2}' AND after->>'note' LIKE '$tag:%'});
	my $last_after = $node->safe_psql(
		'postgres', q{
SELECT after->>'income' FROM olink.change_journal WHERE op = 'update' AND key = '{"id": 2}'
 ORDER BY journal_id DESC LIMIT 1});
	my $income_after = $node->safe_psql('postgres', 'SELECT income FROM reg.people WHERE id = 2');
	is($income_after - $income_before, $nupd, "$tag: the row's income rose by the number of journaled updates");
	is($ndistinct, $nupd, "$tag: no update is journaled twice");
	is($last_after + 0, $income_after + 0, "$tag: the last journaled image is the row as it is");
	my %journaled_upd = map { $_ => 1 } split /\n/, $node->safe_psql(
		'postgres', qq{
SELECT after->>'note' FROM olink.change_journal WHERE op = 'update' AND after->>'note' LIKE '$tag:%'});
	@missing = grep { my ($n) = /:(\d+):$/; !($n % 2) && !$journaled_upd{$_} } @returned;
	is("@missing", '', "$tag: every update that returned is in the journal");

	# the access events of every statement that returned
	my %logged;
	for my $row (split /\n/, $node->safe_psql(
			'postgres', qq{
SELECT substring(statement from \$\$'($tag:[0-9]+:)'\$\$) || '|' || outcome
  FROM olink.access_log WHERE statement LIKE '%''$tag:%'}))
	{
		my ($m, $outcome) = split /\|/, $row;
		push @{ $logged{$m} }, $outcome;
	}
	my @unlogged = grep { !$logged{$_} } @returned;
	is("@unlogged", '', "$tag: every statement that returned has its access event");
	my @odd = grep { @{ $logged{$_} } != 1 || $logged{$_}[0] !~ /^(allowed|incomplete)$/ } keys %logged;
	is("@odd", '', "$tag: one access event per statement, allowed or incomplete");
	note "$tag: outcomes: "
	  . join(', ', map { my $o = $_; "$o=" . scalar(grep { $logged{$_}[0] eq $o } keys %logged) }
		  qw(allowed incomplete));

	is( $node->safe_psql(
			'postgres', qq{
SELECT count(*) FROM olink.journal j
 WHERE (j.after->>'note' LIKE '$tag:%')
   AND NOT EXISTS (SELECT FROM olink.access_event e WHERE e.statement_id = j.statement_id)}),
		'0', "$tag: every journal row's statement has its access event");
	return;
}

# how many ids of the audit store occur more than once (0 when none)
sub repeated_ids
{
	my ($node) = @_;
	return $node->safe_psql(
		'postgres', q{
SELECT (SELECT count(*) - count(DISTINCT event_id) FROM olink.access_event)
     + (SELECT count(*) - count(DISTINCT event_id) FROM olink.connection_event)
     + (SELECT count(*) - count(DISTINCT journal_id) FROM olink.journal)
     + (SELECT count(*) - count(DISTINCT text_id) FROM olink.audit_text)
     + (SELECT count(*) - count(DISTINCT seal_id) FROM olink.audit_seal)
     + (SELECT count(*) FROM (SELECT FROM olink.access_event
                               GROUP BY statement_id, outcome HAVING count(*) > 1) d)
     + (SELECT count(*) FROM (SELECT FROM olink.connection_event
                               GROUP BY session_id, kind HAVING count(*) > 1) d)});
}

1;
