import '@mantine/core/styles.css';
import { createTheme, Drawer, InputDescription, InputError, MantineProvider, Modal } from '@mantine/core';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router';
import { App } from './App';

// Shades dark enough for white text and for text on white to pass WCAG AA contrast.
// Every dialog's close button has a name for screen readers (axe flags an unnamed one), and input
// descriptions are dark enough to read (Mantine's default grey is under 4.5:1 on white).
// Dialogs open without animation for people who ask their system for reduced motion.
const theme = createTheme({
  primaryShade: 8,
  respectReducedMotion: true,
  components: {
    Modal: Modal.extend({ defaultProps: { closeButtonProps: { 'aria-label': 'Close' } } }),
    Drawer: Drawer.extend({ defaultProps: { closeButtonProps: { 'aria-label': 'Close' } } }),
    InputDescription: InputDescription.extend({ defaultProps: { c: 'gray.8' } }),
    InputError: InputError.extend({ defaultProps: { c: 'red.9' } }),
  },
});

const queries = new QueryClient({ defaultOptions: { queries: { retry: false, refetchOnWindowFocus: false } } });

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <MantineProvider theme={theme}>
      <QueryClientProvider client={queries}>
        <BrowserRouter>
          <App />
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
