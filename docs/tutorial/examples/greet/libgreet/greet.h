/* Public header of the tiny "greet" library used by the tutorial.
 *
 * On Windows a declaration seen by a *user* of the DLL carries
 * __declspec(dllimport), so the compiler emits a call through __imp_greet,
 * which only an import library provides. Define GREET_STATIC when linking the
 * static library instead (the same contract as libcurl's CURL_STATICLIB). */
#ifndef GREET_H
#define GREET_H

#if defined(_WIN32) && !defined(GREET_STATIC)
#  if defined(GREET_BUILDING)
#    define GREET_API __declspec(dllexport)
#  else
#    define GREET_API __declspec(dllimport)
#  endif
#else
#  define GREET_API
#endif

GREET_API int greet(int x);

#endif
