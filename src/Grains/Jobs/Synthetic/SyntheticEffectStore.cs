using Npgsql;

namespace OrleansJobs.Jobs.Synthetic;

/// <summary>Writes a synthetic item's effect (once) and counts its execution (every time), in one statement.</summary>
public sealed class SyntheticEffectStore(NpgsqlDataSource dataSource)
{
    private const string RecordSql = """
        WITH executed AS (
            INSERT INTO synthetic_item_executions (job_id, item, executions, last_at)
            VALUES (@job, @item, 1, now())
            ON CONFLICT (job_id, item) DO UPDATE
            SET executions = synthetic_item_executions.executions + 1, last_at = now()
        )
        INSERT INTO synthetic_item_effects (job_id, item, attempt)
        VALUES (@job, @item, @attempt)
        ON CONFLICT (job_id, item) DO NOTHING
        """;

    /// <summary>How long an item waits for the database to come back before its run fails.</summary>
    public static readonly TimeSpan OutageTolerance = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Records the effect of one item; returns true if this execution applied it, false if it was
    /// already applied. While the database is unreachable it retries, backing off up to 5 s, for
    /// up to <see cref="OutageTolerance"/>: the effect is idempotent, so a retry never doubles it.
    /// </summary>
    public async Task<bool> RecordAsync(string jobId, long item, int attempt, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        var giveUpAt = DateTimeOffset.UtcNow + OutageTolerance;
        while (true)
        {
            try
            {
                await using var command = dataSource.CreateCommand(RecordSql);
                command.Parameters.AddWithValue("job", jobId);
                command.Parameters.AddWithValue("item", item);
                command.Parameters.AddWithValue("attempt", attempt);
                return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
            }
            catch (NpgsqlException ex) when (ex is not PostgresException { IsTransient: false } && DateTimeOffset.UtcNow < giveUpAt
                && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(delay, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }
}
