# PgInbox::Test: what the TAP tests of test/t share, on top of PostgreSQL's
# own framework (PostgreSQL::Test::Cluster).  tools/run-tap puts this
# directory and the framework's on @INC; see test/README.md.
package PgInbox::Test;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use Test::More;

our @EXPORT = qw(inbox_node streaming_standby sqlstate_of);

# A new node with pg_inbox in shared_preload_libraries.  %params go to
# PostgreSQL::Test::Cluster::init (allows_streaming => 1 for a primary).
sub inbox_node
{
	my ($name, %params) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init(%params);
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'pg_inbox'");
	return $node;
}

# A streaming replica of $primary called $name, made as a user makes one:
# pg_basebackup -R (standby.signal, and primary_conninfo in
# postgresql.auto.conf, with application_name $name so that
# wait_for_catchup and synchronous_standby_names know it).  Not started.
sub streaming_standby
{
	my ($primary, $name) = @_;
	my $standby = PostgreSQL::Test::Cluster->new($name);

	{
		local $ENV{PGAPPNAME} = $name;
		$primary->backup("$name-base", backup_options => ['-R']);
	}
	$standby->init_from_backup($primary, "$name-base");
	return $standby;
}

# Run $sql on $node in $dbname; return the SQLSTATE of the error it raises,
# or '' when it succeeds.  The message is the second value.
sub sqlstate_of
{
	my ($node, $dbname, $sql) = @_;
	my ($stdout, $stderr);

	$node->psql($dbname, "\\set VERBOSITY verbose\n$sql",
		stdout => \$stdout, stderr => \$stderr);
	return ('', '') unless $stderr =~ /ERROR:\s+([0-9A-Z]{5}):\s*(.*)/;
	return ($1, $2);
}

1;
