using Npgsql;
using OrleansJobs.Membership;

namespace OrleansJobs.Jobs.Synthetic;

/// <summary>
/// Writes a synthetic item's effect (once) and counts its execution (every time, with the silo that
/// executed it), in one statement. Nothing is written by a silo that is not confirmed alive
/// (<see cref="SiloLiveness"/>): a silo woken from a freeze checks first.
/// </summary>
public sealed class SyntheticEffectStore(NpgsqlDataSource dataSource, SiloLiveness? liveness, string silo)
{
    /// <summary>A store outside a silo (handler tests): nothing to check, executions recorded under <paramref name="silo"/>.</summary>
    public SyntheticEffectStore(NpgsqlDataSource dataSource, string silo = "test")
        : this(dataSource, null, silo)
    {
    }

    public SyntheticEffectStore(NpgsqlDataSource dataSource, SiloLiveness liveness, ILocalSiloDetails localSilo)
        : this(dataSource, liveness, localSilo.SiloAddress.ToParsableString())
    {
    }

    private const string RecordSql = """
        WITH logged AS (
            INSERT INTO synthetic_item_runs (job_id, item, attempt, silo) VALUES (@job, @item, @attempt, @silo)
        ), executed AS (
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
                if (liveness is not null)
                {
                    await liveness.EnsureAliveAsync(cancellationToken);
                }

                await using var command = dataSource.CreateCommand(RecordSql);
                command.Parameters.AddWithValue("job", jobId);
                command.Parameters.AddWithValue("item", item);
                command.Parameters.AddWithValue("attempt", attempt);
                command.Parameters.AddWithValue("silo", silo);
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
