namespace OrleansJobs.Libraries;

/// <summary>
/// Where a library and its jobs may read and write. A root is canonicalized (absolute, every
/// symbolic link resolved) and must lie under one of the allowed bases, canonicalized the same way;
/// paths in job parameters and settings are relative to the root and may not climb out of it.
/// </summary>
public static class LibraryPaths
{
    private const int MaxLinks = 40; // as the kernel's own limit on links followed in one lookup

    /// <summary>
    /// The canonical form of <paramref name="path"/>: absolute, with every symbolic link along it resolved,
    /// "." and ".." applied after each resolution. Components that do not exist are kept as written.
    /// </summary>
    public static string Canonical(string path)
    {
        var pending = new Stack<string>(Path.GetFullPath(path).Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse());
        var resolved = new List<string>();
        var links = 0;
        while (pending.TryPop(out var part))
        {
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (resolved.Count > 0)
                {
                    resolved.RemoveAt(resolved.Count - 1);
                }

                continue;
            }

            var candidate = "/" + string.Join('/', resolved.Append(part));
            var info = new FileInfo(candidate);
            if (info.LinkTarget is { } target)
            {
                if (++links > MaxLinks)
                {
                    throw new IOException($"too many symbolic links along '{path}'");
                }

                // The link's target replaces it: an absolute target starts over from the root.
                if (target.StartsWith('/'))
                {
                    resolved.Clear();
                }

                foreach (var next in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse())
                {
                    pending.Push(next);
                }

                continue;
            }

            resolved.Add(part);
        }

        return "/" + string.Join('/', resolved);
    }

    /// <summary>Whether canonical <paramref name="path"/> is <paramref name="root"/> or lies below it.</summary>
    public static bool IsWithin(string path, string root) =>
        path == root || path.StartsWith(root.EndsWith('/') ? root : root + "/", StringComparison.Ordinal);

    /// <summary>
    /// Checks a path given relative to a library's root (a job's target, a settings folder): not empty,
    /// not absolute, no "." or ".." segment, no empty segment, no control character. Null when valid,
    /// else what is wrong.
    /// </summary>
    public static string? RelativeError(string? value, int maxLength = 1024)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > maxLength)
        {
            return $"must be a relative path of 1 to {maxLength} characters";
        }

        if (value.StartsWith('/') || value.StartsWith('\\') || value.Contains('\\', StringComparison.Ordinal))
        {
            return "must be relative to the library's root (no leading '/', no '\\')";
        }

        if (value.Any(char.IsControl))
        {
            return "must not contain control characters";
        }

        var segments = value.TrimEnd('/').Split('/');
        if (segments.Any(s => s is "" or "." or ".."))
        {
            return "must not contain '.', '..' or empty segments";
        }

        return null;
    }

    /// <summary>
    /// <paramref name="relative"/> (checked by <see cref="RelativeError"/>) under canonical <paramref name="root"/>,
    /// canonicalized: null when a symbolic link along it leads out of the root.
    /// </summary>
    public static string? Resolve(string root, string relative)
    {
        var full = Canonical(Path.Combine(root, relative));
        return IsWithin(full, root) ? full : null;
    }
}
