using Npgsql;
using NpgsqlTypes;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.ReadModel;

/// <summary>
/// The one definition of a stalled job in the index, for <c>GET /api/jobs?stuck=true</c> and the
/// recovery status alike: running (or cancelling) with no progress for its type's stall timeout,
/// the watchdog's own rule applied to the index's <c>last_progress_at</c>. A type no silo registers
/// has no timeout, so its jobs are never called stalled (the watchdog does not check them either).
/// </summary>
public static class StalledJobs
{
    /// <summary>SQL condition on <c>job_index j</c>; needs <see cref="AddParameters"/>.</summary>
    public const string Condition = $"""
        (j.status IN ({JobStatusSql.Running}) AND coalesce(j.last_progress_at, j.started_at) < now() - (
            SELECT t.stall_timeout FROM unnest(@stall_types, @stall_timeouts) AS t(job_type, stall_timeout) WHERE t.job_type = j.job_type))
        """;

    public static void AddParameters(NpgsqlCommand command, IReadOnlyList<JobTypeInfo> types)
    {
        command.Parameters.Add(new NpgsqlParameter("stall_types", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = types.Select(t => t.Name).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("stall_timeouts", NpgsqlDbType.Array | NpgsqlDbType.Interval) { Value = types.Select(t => t.StallTimeout).ToArray() });
    }
}
