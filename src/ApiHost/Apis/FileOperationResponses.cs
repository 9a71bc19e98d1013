using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Mvc;
using OrleansJobs.ApiHost.Hosting;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>One file operation of a job's transaction log (also one line of the <c>jsonl</c> format).</summary>
/// <param name="Seq">Its place in the job's plan, from 1.</param>
/// <param name="Operation">copy, move, undo_copy (a revert removes a copy) or undo_move (a revert moves a file back).</param>
/// <param name="Source">The file read, relative to the library's root.</param>
/// <param name="Target">The file written, relative to the library's root.</param>
/// <param name="Sha256">SHA-256 of the content, lower-case hex, once known.</param>
/// <param name="SizeBytes">Size in bytes, once known.</param>
/// <param name="Status">planned, in_progress, completed, skipped, failed or rolled_back (reverted since).</param>
/// <param name="Error">Why it failed.</param>
/// <param name="Note">A warning, e.g. that the target name was taken by a different file and a suffixed name was used.</param>
/// <param name="RevertsJob">For an undo: the job whose operation it reverses.</param>
/// <param name="RevertsSeq">For an undo: that operation's seq.</param>
/// <param name="UpdatedAt">When its status last changed.</param>
public sealed record FileOperationResponse(
    long Seq, string Operation, string Source, string Target, string? Sha256, long? SizeBytes, string Status, string? Error, string? Note,
    string? RevertsJob, long? RevertsSeq, DateTimeOffset UpdatedAt);

/// <summary>A page of a job's file operations in plan order, with the totals by status over the whole log.</summary>
/// <param name="Items">The operations of this page.</param>
/// <param name="Totals">How many operations of the job are in each status.</param>
/// <param name="NextCursor">The <c>cursor</c> of the next page; null on the last page.</param>
public sealed record FileOperationPage(IReadOnlyList<FileOperationResponse> Items, IReadOnlyDictionary<string, long> Totals, string? NextCursor);

/// <summary>Filters and page of <c>GET /api/jobs/{id}/operations</c>.</summary>
/// <param name="Status">Only operations in these statuses: repeat the parameter, or separate names with commas.</param>
/// <param name="Format">json (default): a page with totals; jsonl: the operations, one per line (application/jsonl), all of them unless limit is given.</param>
/// <param name="Limit">Page size, 1 to 5000 (default 500 for json).</param>
/// <param name="Cursor">The <c>nextCursor</c> of the previous page (the last seq seen).</param>
public sealed record FileOperationsQuery(
    [property: FromQuery(Name = "status")] FileOperationStatusFilter[]? Status = null,
    [property: FromQuery(Name = "format")] JournalFormat? Format = null,
    [property: FromQuery(Name = "limit"), Range(1, FileOperationsQuery.MaxLimit, ErrorMessage = "must be a whole number from {1} to {2}")] int? Limit = null,
    [property: FromQuery(Name = "cursor"), Range(0, long.MaxValue, ErrorMessage = "must be a whole number of at least {1}")] long? Cursor = null)
{
    public const int DefaultLimit = 500;
    public const int MaxLimit = 5000;
}

/// <summary>Operation statuses named in one <c>status</c> query value, comma-separated.</summary>
public readonly record struct FileOperationStatusFilter(IReadOnlyList<string> Statuses) : INamedQueryValue
{
    public static IReadOnlyList<string> Names { get; } = ["planned", "in_progress", "completed", "skipped", "failed", "rolled_back"];

    public static bool TryParse(string? value, out FileOperationStatusFilter filter)
    {
        var statuses = new List<string>();
        foreach (var name in (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Names.Contains(name, StringComparer.Ordinal))
            {
                filter = default;
                return false;
            }

            statuses.Add(name);
        }

        filter = new FileOperationStatusFilter(statuses);
        return true;
    }
}
