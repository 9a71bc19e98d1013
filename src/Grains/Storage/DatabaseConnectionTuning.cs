using System.Data.Common;
using Npgsql;

namespace OrleansJobs.Storage;

/// <summary>
/// Connection settings the silo's hot path depends on, applied unless the configured connection
/// string sets them itself. Every job costs a few short statements (state read, state writes,
/// projection batches); without these, PostgreSQL spends more CPU on per-statement overhead than on
/// the statements.
/// </summary>
public static class DatabaseConnectionTuning
{
    /// <summary>Statements kept prepared per physical connection (the Orleans queries and the projection writes).</summary>
    public const int AutoPreparedStatements = 32;

    public static string Apply(string connectionString)
    {
        var given = new DbConnectionStringBuilder { ConnectionString = connectionString };
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        // A pooled connection is otherwise reset with DISCARD ALL each time it goes back to the pool:
        // one more statement per query, and it throws away the prepared statements. Nothing here
        // changes session state (no SET, no temporary tables, no LISTEN), so there is nothing to reset.
        if (!Given(given, "No Reset On Close"))
        {
            builder.NoResetOnClose = true;
        }

        // Prepare statements used more than once: PostgreSQL then skips parsing and planning them.
        if (!Given(given, "Max Auto Prepare"))
        {
            builder.MaxAutoPrepare = AutoPreparedStatements;
        }

        return builder.ConnectionString;
    }

    /// <summary>Whether the operator set the keyword (in either of Npgsql's spellings).</summary>
    private static bool Given(DbConnectionStringBuilder given, string keyword) =>
        given.ContainsKey(keyword) || given.ContainsKey(keyword.Replace(" ", "", StringComparison.Ordinal));
}
