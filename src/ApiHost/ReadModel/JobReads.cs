using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.Hosting;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.ReadModel;

/// <summary>A job as read for the API, and whether it came from its stored state because its silo did not answer.</summary>
public sealed record JobRead(JobSnapshot? Job, bool SiloUnreachable);

/// <summary>
/// Reads a job without ever waiting on a silo that does not answer. The live grain is asked first;
/// if it has not answered within <see cref="ApiHostOptions.LiveReadTimeout"/> (its silo is dead but
/// not yet declared so, frozen, or cut off), the job is read from its stored state instead: exactly
/// what its last write saved, so it may trail the live job by one checkpoint.
/// </summary>
public sealed class JobReads(IClusterClient cluster, NpgsqlDataSource database, IOptions<ApiHostOptions> options)
{
    private const string StoredSql = "SELECT payload FROM grain_state WHERE grain_id = @grain_id AND state_name = @state_name";

    public async Task<JobRead> ReadAsync(string jobId, CancellationToken cancellationToken)
    {
        var (answered, job) = await LiveCalls.WithinAsync(cluster.Reference<IJobGrain>(jobId).GetAsync(), options.Value.LiveReadTimeout, cancellationToken);
        return answered ? new JobRead(job, false) : new JobRead(await ReadStoredAsync(jobId, cancellationToken), true);
    }

    /// <summary>The job as its last write stored it, or null when there is no such job.</summary>
    public async Task<JobSnapshot?> ReadStoredAsync(string jobId, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(StoredSql);
        command.Parameters.AddWithValue("grain_id", StoredJob.GrainId(jobId));
        command.Parameters.AddWithValue("state_name", StoredJob.StateName);
        if (await command.ExecuteScalarAsync(cancellationToken) is not byte[] payload)
        {
            return null;
        }

        var stored = JsonSerializer.Deserialize<StoredJob>(payload, StoredJob.JsonOptions);
        return stored is { Exists: true } ? stored.ToSnapshot(jobId) : null;
    }
}
