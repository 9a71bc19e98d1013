using Microsoft.Extensions.Logging;
using OrleansJobs.Jobs;

namespace OrleansJobs.Libraries;

/// <summary>A library restored from an archive.</summary>
public sealed partial class LibraryGrain
{
    public async Task<LibraryResult> ImportAsync(ArchivedLibrary library, string actor)
    {
        await _changes.WaitAsync();
        try
        {
            if (state.State.Exists)
            {
                return new LibraryResult(LibraryOutcome.Existing, Snapshot(), []);
            }

            // The rules of a create: this cluster's allowed bases and folders decide, not the archived cluster's.
            var errors = new List<JobParameterError>();
            LibraryRules.CheckName(library.Name, errors);
            LibraryRules.CheckSettings(library.Settings, errors);
            var root = CanonicalRoot(library.Root, errors);
            if (errors.Count > 0)
            {
                return new LibraryResult(LibraryOutcome.Invalid, null, errors);
            }

            var imported = new LibraryState
            {
                Exists = true, Name = library.Name, Root = root!, Settings = library.Settings,
                CreatedAt = library.CreatedAt, UpdatedAt = library.UpdatedAt, Version = Math.Max(1, library.Version),
            };
            if (await store.ClaimRootAsync(Id, imported) is { } other)
            {
                return new LibraryResult(LibraryOutcome.Invalid, null,
                    [new("root", $"overlaps the root of library '{other}': one folder belongs to one library")]);
            }

            state.State = imported;
            await state.WriteStateAsync();
            LogImported(logger, Id, root!, actor);
            return new LibraryResult(LibraryOutcome.Created, Snapshot(), []);
        }
        finally
        {
            _changes.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Library {LibraryId} imported at {Root} by {Actor}")]
    private static partial void LogImported(ILogger logger, string libraryId, string root, string actor);
}
