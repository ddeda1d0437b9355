// The page for a path the application has no page at, and the one for a
// page this person's role may not use.

/** @param {{path: string}} props */
export function NotFound({ path }) {
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        There is no page at <code>{path}</code>. Check the address, or go to the <a href="/">home page</a>.
      </p>
    </section>
  );
}

export function NotAllowed() {
  return (
    <section>
      <h1>Not available to you</h1>
      <p>
        Your account cannot use this page. Go to the <a href="/">home page</a>.
      </p>
    </section>
  );
}
