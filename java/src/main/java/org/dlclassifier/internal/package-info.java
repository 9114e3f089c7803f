/**
 * Not part of the documented API: the jar's native seam ({@link org.dlclassifier.internal.Native})
 * and the helpers the public classes share. Everything here may change in any release without notice;
 * use the classes of {@code org.dlclassifier}.
 */
package org.dlclassifier.internal;
