using System.ComponentModel;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Npgsql;
using OrleansJobs.ApiHost.Archive;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.Jobs;
using OrleansJobs.ApiHost.Security;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Which jobs <c>GET /api/admin/export</c> takes; every library and device goes with them.</summary>
/// <param name="Status">Only jobs in these statuses (as the job index shows them): repeat the parameter, or separate names with commas.</param>
/// <param name="Type">Only jobs of this type.</param>
/// <param name="CreatedAfter">Only jobs created at or after this time (ISO 8601).</param>
/// <param name="CreatedBefore">Only jobs created before this time (ISO 8601).</param>
public sealed record ExportQuery(
    [property: FromQuery(Name = "status")] JobStatusFilter[]? Status = null,
    [property: FromQuery(Name = "type"), QueryText(JobSubmissionLimits.MaxTypeLength)] string? Type = null,
    [property: FromQuery(Name = "createdAfter")] DateTimeOffset? CreatedAfter = null,
    [property: FromQuery(Name = "createdBefore")] DateTimeOffset? CreatedBefore = null)
{
    public ArchiveFilter ToFilter()
    {
        var statuses = (Status ?? []).SelectMany(s => s.Statuses).Distinct().Select(s => s.ToString()).ToList();
        return new ArchiveFilter(statuses.Count > 0 ? statuses : null, Type, CreatedAfter, CreatedBefore);
    }
}

/// <summary>Export and import of archives: jobs with their state, journal and file operations, libraries and devices (<c>docs/archive.md</c>).</summary>
public static class ArchiveApi
{
    private const string ImportDescription = "The body is an archive as the export writes it (application/gzip). Every line is read and " +
        "checked first; a corrupt or cut-short archive answers 400 naming the line (errors.body, and line) and nothing is written. Then " +
        "libraries and devices that do not exist are created under this cluster's rules, and each job is restored: skipped when this " +
        "cluster has it at the same or a newer version (importing twice changes nothing), a job that was waiting or running comes back " +
        "Paused with an imported journal entry. The answer counts what was created, skipped and failed; the request ends when the import " +
        "has, and an import that has begun writing finishes even if the client goes away.";

    public static IEndpointRouteBuilder MapArchiveApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/admin").WithTags("Admin");
        admin.MapGet("/export", Export)
            .WithName("ExportArchive")
            .RequireRole(ApiRoles.Admin)
            .WithSummary("Export an archive: gzip'd JSON Lines of jobs (filtered by status, type, creation time) with their state, journal and file operations, and every library and device")
            .WithDescription("Streams as it reads, from one snapshot of the database. An archive cut short (the connection or the database " +
                "failed midway) has no end line, and an import refuses it. The file name is orleansjobs-export-<time>.jsonl.gz.")
            .Produces<Stream>(StatusCodes.Status200OK, ArchiveFormat.ContentType)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        admin.MapPost("/import", Import)
            .WithName("ImportArchive")
            .RequireRole(ApiRoles.Admin)
            .WithSummary("Import an archive into this cluster: idempotent; jobs that were waiting or running come back Paused")
            .WithDescription(ImportDescription)
            .Accepts<Stream>(ArchiveFormat.ContentType)
            .WithMetadata(ArchiveBody.Instance)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    public static async Task<Results<PushStreamHttpResult, ValidationProblem>> Export(
        [AsParameters] ExportQuery query, HttpContext http, NpgsqlDataSource database, TimeProvider time, CancellationToken cancellationToken)
    {
        if (query.CreatedAfter is { } after && query.CreatedBefore is { } before && after >= before)
        {
            return ApiProblems.Invalid("createdBefore", "must be later than createdAfter");
        }

        var export = await ArchiveExport.OpenAsync(database, query.ToFilter(), time.GetUtcNow(), cancellationToken);
        http.Response.RegisterForDisposeAsync(export);
        return TypedResults.Stream(body => export.WriteAsync(body, cancellationToken), ArchiveFormat.ContentType, ArchiveFormat.FileName(export.ExportedAt));
    }

    public static async Task<Results<Ok<ArchiveImportResult>, ValidationProblem, ProblemHttpResult>> Import(
        [Description("The archive (application/gzip), as GET /api/admin/export wrote it.")] Stream body,
        HttpContext http, IClusterClient cluster, IOptions<ApiHostOptions> options, CancellationToken cancellationToken)
    {
        if (!MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var type) || type.MediaType != ArchiveFormat.ContentType)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType,
                detail: $"The archive must be sent as {ArchiveFormat.ContentType}, as the export wrote it.");
        }

        var settings = options.Value;
        var path = Path.Combine(Path.GetTempPath(), $"orleansjobs-import-{Guid.NewGuid():N}.jsonl.gz");
        await using var kept = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16,
            FileOptions.Asynchronous | FileOptions.DeleteOnClose);
        ArchiveSummary summary;
        try
        {
            summary = await new ArchiveCheck(cluster).RunAsync(new CopyingStream(body, kept), settings.ArchiveMaxLineBytes, cancellationToken);
        }
        catch (ArchiveException refused)
        {
            return TypedResults.ValidationProblem(
                new Dictionary<string, string[]> { ["body"] = [refused.Message] }, title: ApiProblems.InvalidTitle,
                detail: $"The archive was refused at line {refused.Line}; nothing was written.",
                extensions: new Dictionary<string, object?> { ["line"] = refused.Line });
        }
        catch (BadHttpRequestException tooLarge) when (tooLarge.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return ApiProblems.Invalid("body", $"{RequestBodyLimit.TooLarge(settings.ArchiveMaxBytes)} (Api:ArchiveMaxBytes)");
        }

        await kept.FlushAsync(cancellationToken);
        kept.Position = 0;
        // Checked whole: from here it is carried through, whatever the client does (a repeat would skip what is done).
        var import = new ArchiveImport(cluster, summary, ApiActors.Of(http));
        return TypedResults.Ok(await import.RunAsync(kept, settings.ArchiveMaxLineBytes, settings.ArchiveImportParallelism, CancellationToken.None));
    }
}
