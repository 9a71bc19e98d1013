using Npgsql;
using OrleansJobs.Hosting;
using OrleansJobs.Membership;

namespace OrleansJobs.Jobs.Synthetic;

/// <summary>
/// Writes a synthetic item's effect (once) and counts its execution (every time, with the silo that
/// executed it), in one statement. Nothing is written by a silo that is not confirmed alive
/// (<see cref="SiloLiveness"/>): a silo woken from a freeze checks first, and the statement itself is
/// fenced by the silo's membership row, so a silo frozen between its check and its write (and declared
/// dead meanwhile) writes nothing either.
/// </summary>
public sealed class SyntheticEffectStore(NpgsqlDataSource dataSource, SiloLiveness? liveness, string silo, SiloMembershipRow? fence = null)
{
    /// <summary>A store outside a silo (handler tests): nothing to check, executions recorded under <paramref name="silo"/>.</summary>
    public SyntheticEffectStore(NpgsqlDataSource dataSource, string silo = "test")
        : this(dataSource, null, silo)
    {
    }

    public SyntheticEffectStore(NpgsqlDataSource dataSource, SiloLiveness liveness, ILocalSiloDetails localSilo, SiloMembershipRow fence)
        : this(dataSource, liveness, localSilo.SiloAddress.ToParsableString(), fence)
    {
    }

    private const string RecordSql = $"""
        WITH fence AS (
            SELECT {SiloMembershipRow.NotDeadSql} AS alive
        ), logged AS (
            INSERT INTO synthetic_item_runs (job_id, item, attempt, silo) SELECT @job, @item, @attempt, @silo WHERE (SELECT alive FROM fence)
        ), executed AS (
            INSERT INTO synthetic_item_executions (job_id, item, executions, last_at)
            SELECT @job, @item, 1, now() WHERE (SELECT alive FROM fence)
            ON CONFLICT (job_id, item) DO UPDATE
            SET executions = synthetic_item_executions.executions + 1, last_at = now()
        ), applied AS (
            INSERT INTO synthetic_item_effects (job_id, item, attempt)
            SELECT @job, @item, @attempt WHERE (SELECT alive FROM fence)
            ON CONFLICT (job_id, item) DO NOTHING
            RETURNING 1
        )
        SELECT (SELECT alive FROM fence), (SELECT count(*) FROM applied)::int
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
                SiloMembershipRow.AddParameters(fence, command);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                await reader.ReadAsync(cancellationToken);
                if (!reader.GetBoolean(0))
                {
                    throw new SiloDeclaredDeadException("this silo was declared dead by the cluster: the item's effect is not written (its job continues on a live silo)");
                }

                return reader.GetInt32(1) == 1;
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
