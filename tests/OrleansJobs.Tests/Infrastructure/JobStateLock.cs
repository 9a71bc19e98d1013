using Npgsql;

namespace OrleansJobs.Tests.Infrastructure;

/// <summary>
/// A lock on job state, held by a transaction of its own until disposed: grains that read or write
/// the locked state wait, as when the database stalls. <see cref="WaitingAsync"/> says whether they do.
/// </summary>
public sealed class JobStateLock : IAsyncDisposable
{
    private readonly TestDatabase _database;
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;
    private bool _released;

    private JobStateLock(TestDatabase database, NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        _database = database;
        _connection = connection;
        _transaction = transaction;
    }

    /// <summary>All job state: no grain state can be read or written.</summary>
    public static Task<JobStateLock> TableAsync(TestDatabase database) =>
        TakeAsync(database, "LOCK TABLE grain_state IN ACCESS EXCLUSIVE MODE", null);

    /// <summary>One job's stored state: it can be read, not written.</summary>
    public static Task<JobStateLock> JobAsync(TestDatabase database, string jobId) =>
        TakeAsync(database, "SELECT 1 FROM grain_state WHERE grain_id = @id AND state_name = 'job' FOR UPDATE", $"job/{jobId}");

    /// <summary>Statements of the test's database that wait for this lock.</summary>
    public Task<long> WaitingAsync() => _database.ScalarAsync<long>(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%grain_state%'");

    /// <summary>Lets the waiting statements go on.</summary>
    public async Task ReleaseAsync()
    {
        if (!_released)
        {
            _released = true;
            await _transaction.RollbackAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ReleaseAsync();
        await _transaction.DisposeAsync();
        await _connection.DisposeAsync();
    }

    private static async Task<JobStateLock> TakeAsync(TestDatabase database, string sql, string? grainId)
    {
        var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        if (grainId is not null)
        {
            command.Parameters.AddWithValue("id", grainId);
        }

        await command.ExecuteNonQueryAsync();
        return new JobStateLock(database, connection, transaction);
    }
}
