using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.Hosting;
using OrleansJobs.Devices;
using OrleansJobs.Jobs;
using OrleansJobs.ApiHost.Security;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>The worker API: external workers claim queued jobs of external types and report on them under a lease.</summary>
public static class WorkersApi
{
    private const string ReportDescription = "Every accepted report extends the lease. A report under an expired or superseded lease token " +
        "(lapsed, claimed again, cancelled, paused, killed) answers 409 and changes nothing: the worker must stop working on the job.";

    public static IEndpointRouteBuilder MapWorkersApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/workers/claim", Claim)
            .WithTags("Workers")
            .WithName("ClaimJob")
            .RequireRole(ApiRoles.Worker)
            .WithSummary("Claim the next queued job of the given external types")
            .WithDescription("Leases the next queued job (priority, then arrival order; at most MaxConcurrent leased per type) to the " +
                "worker: 200 with its parameters, checkpoint and lease token, or 204 when none waits. The lease lasts leaseSeconds after " +
                "the claim and after every report; a job whose lease lapses goes back to the queue with its last checkpoint. With device, " +
                "the device's agent claims the job that owns the device (a device job whose lease lapses is paused, never requeued).")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        // Literal routes beside the job actions (/api/jobs/{id}/pause, ...): same URLs as ever, one path each in the document.
        var reports = app.MapGroup("/api/jobs/{id}").WithTags("Workers");
        reports.MapPost("/heartbeat", Heartbeat)
            .WithName("ReportHeartbeat")
            .RequireRole(ApiRoles.Worker)
            .WithSummary("A worker's heartbeat: extends the lease")
            .WithDescription(ReportDescription)
            .ProducesReportProblems();
        reports.MapPost("/progress", Progress)
            .WithName("ReportProgress")
            .RequireRole(ApiRoles.Worker)
            .WithSummary("A worker's progress, optionally with a checkpoint (stored durably)")
            .WithDescription(ReportDescription)
            .ProducesReportProblems();
        reports.MapPost("/messages", Messages)
            .WithName("ReportMessages")
            .RequireRole(ApiRoles.Worker)
            .WithSummary("A worker's messages for operators")
            .WithDescription(ReportDescription)
            .ProducesReportProblems();
        reports.MapPost("/complete", Complete)
            .WithName("ReportComplete")
            .RequireRole(ApiRoles.Worker)
            .WithSummary("The worker finished the job (optionally with its final checkpoint); ends the lease")
            .WithDescription(ReportDescription)
            .ProducesReportProblems();
        reports.MapPost("/fail", Fail)
            .WithName("ReportFail")
            .RequireRole(ApiRoles.Worker)
            .WithSummary("The attempt failed: retried from its checkpoint while attempts remain; ends the lease")
            .WithDescription(ReportDescription)
            .ProducesReportProblems();
        reports.MapPost("/release", Release)
            .WithName("ReportRelease")
            .RequireRole(ApiRoles.Worker)
            .WithSummary("The worker gives the job back with its last checkpoint (it stops): queued again at once, the attempt not counted as failed; ends the lease")
            .WithDescription(ReportDescription + " A device job waits for its device's agent again.")
            .ProducesReportProblems();
        return app;
    }

    public static async Task<Results<Ok<ClaimResponse>, NoContent, ValidationProblem, ProblemHttpResult>> Claim(
        ClaimRequest request, HttpContext http, IClusterClient cluster)
    {
        var refused = request.Device is { } scoped ? WorkerScope.ForDevice(http.User, scoped) : WorkerScope.ForTypes(http.User, request.Types ?? []);
        if (refused is not null)
        {
            return refused;
        }

        var lease = request.LeaseSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : (TimeSpan?)null;
        var result = request.Device is { } device
            ? await cluster.Reference<IDeviceGrain>(device).ClaimAsync(request.WorkerId, lease)
            : await cluster.GetGrain<IWorkerGatewayGrain>(0).ClaimAsync(request.WorkerId, request.Types!, lease);
        if (result.Errors.Count > 0)
        {
            return ApiProblems.Invalid(result.Errors);
        }

        if (result.Lease is not { } claimed)
        {
            return TypedResults.NoContent();
        }

        return TypedResults.Ok(new ClaimResponse(
            claimed.JobId, claimed.Type, JsonDocument.Parse(claimed.ParametersJson).RootElement.Clone(), claimed.Checkpoint, claimed.Progress,
            claimed.Attempt, claimed.LeaseToken, claimed.LeaseExpiresAt, claimed.LeaseDuration.TotalSeconds, claimed.CheckpointEveryItems,
            (int)claimed.CheckpointInterval.TotalMilliseconds));
    }

    public static Task<Results<Ok<WorkerReportResponse>, ValidationProblem, ProblemHttpResult>> Heartbeat(
        [JobId] string id, WorkerReportRequest request, HttpContext http, WorkerScope scope, IClusterClient cluster, TimeProvider time) =>
        ReportAsync(http, scope, cluster, id, Report(WorkerReportKind.Heartbeat, request, time));

    public static Task<Results<Ok<WorkerReportResponse>, ValidationProblem, ProblemHttpResult>> Progress(
        [JobId] string id, WorkerReportRequest request, HttpContext http, WorkerScope scope, IClusterClient cluster, TimeProvider time) =>
        ReportAsync(http, scope, cluster, id, Report(WorkerReportKind.Progress, request, time));

    public static Task<Results<Ok<WorkerReportResponse>, ValidationProblem, ProblemHttpResult>> Complete(
        [JobId] string id, WorkerReportRequest request, HttpContext http, WorkerScope scope, IClusterClient cluster, TimeProvider time) =>
        ReportAsync(http, scope, cluster, id, Report(WorkerReportKind.Complete, request, time));

    public static Task<Results<Ok<WorkerReportResponse>, ValidationProblem, ProblemHttpResult>> Messages(
        [JobId] string id, WorkerMessagesRequest request, HttpContext http, WorkerScope scope, IClusterClient cluster, TimeProvider time) =>
        ReportAsync(http, scope, cluster, id, new WorkerReport(
            WorkerReportKind.Messages, request.LeaseToken, request.Progress?.ToProgress(), request.Checkpoint?.ToCheckpoint(),
            [.. request.Messages.Select(m => m.ToMessage(time.GetUtcNow()))], null));

    public static Task<Results<Ok<WorkerReportResponse>, ValidationProblem, ProblemHttpResult>> Fail(
        [JobId] string id, WorkerFailRequest request, HttpContext http, WorkerScope scope, IClusterClient cluster, TimeProvider time) =>
        ReportAsync(http, scope, cluster, id, new WorkerReport(
            WorkerReportKind.Fail, request.LeaseToken, request.Progress?.ToProgress(), request.Checkpoint?.ToCheckpoint(),
            request.Messages?.Select(m => m.ToMessage(time.GetUtcNow())).ToList(), request.Error));

    public static Task<Results<Ok<WorkerReportResponse>, ValidationProblem, ProblemHttpResult>> Release(
        [JobId] string id, WorkerReleaseRequest request, HttpContext http, WorkerScope scope, IClusterClient cluster, TimeProvider time) =>
        ReportAsync(http, scope, cluster, id, new WorkerReport(
            WorkerReportKind.Release, request.LeaseToken, request.Progress?.ToProgress(), request.Checkpoint?.ToCheckpoint(),
            request.Messages?.Select(m => m.ToMessage(time.GetUtcNow())).ToList(), request.Reason));

    private static WorkerReport Report(WorkerReportKind kind, WorkerReportRequest request, TimeProvider time) => new(
        kind, request.LeaseToken, request.Progress?.ToProgress(), request.Checkpoint?.ToCheckpoint(),
        request.Messages?.Select(m => m.ToMessage(time.GetUtcNow())).ToList(), null);

    private static async Task<Results<Ok<WorkerReportResponse>, ValidationProblem, ProblemHttpResult>> ReportAsync(
        HttpContext http, WorkerScope scope, IClusterClient cluster, string id, WorkerReport report)
    {
        if (await scope.ForJobAsync(http.User, id) is { } refused)
        {
            return refused;
        }

        var result = await cluster.Reference<IJobGrain>(id).ReportAsync(report);
        return result.Outcome switch
        {
            WorkerReportOutcome.NotFound => ApiProblems.NotFound(id),
            WorkerReportOutcome.LeaseLost => ApiProblems.Conflict(id, result.Status, "Lease lost",
                $"Job {id}: {result.Detail}. Nothing was changed; stop working on this job."),
            WorkerReportOutcome.NotLeased => ApiProblems.Conflict(id, result.Status, "Not run by a worker",
                $"Job {id}: {result.Detail}. Nothing was changed."),
            _ => TypedResults.Ok(new WorkerReportResponse(result.Status!.Value, result.LeaseExpiresAt)),
        };
    }

    private static RouteHandlerBuilder ProducesReportProblems(this RouteHandlerBuilder builder) => builder.ProducesJobActionProblems();
}
