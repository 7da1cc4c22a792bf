"""Server-rendered pages. Text is written in Chinese and translated by the Babel catalogues in locales/."""
