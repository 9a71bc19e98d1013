namespace OrleansJobs.Jobs;

/// <summary>
/// Text that PostgreSQL can store: no NUL character (text and jsonb refuse it) and well-formed
/// UTF-16 (a lone surrogate cannot be encoded to UTF-8). Every string from outside that may reach
/// a table is checked against this before a grain or a query sees it.
/// </summary>
public static class StorableText
{
    public static bool IsStorable(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0' || char.IsLowSurrogate(c))
            {
                return false;
            }

            if (char.IsHighSurrogate(c))
            {
                if (i + 1 == text.Length || !char.IsLowSurrogate(text[i + 1]))
                {
                    return false;
                }

                i++;
            }
        }

        return true;
    }
}
